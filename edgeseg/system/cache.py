"""Where edgeseg keeps its caches (demo clip, compiled kernels): a directory this process can write.

Usage: ``base = cache_dir()``; ``kernels = writable_cache("numba")``

Order: ``$EDGESEG_CACHE``; ``$CACHE_DIRECTORY`` (systemd's ``CacheDirectory=``, e.g. /var/cache/edgeseg for
a service whose home and install tree are read-only); ``$XDG_CACHE_HOME/edgeseg``; ``~/.cache/edgeseg``.
`writable_cache` falls back to a per-user directory under the system's temp dir when that one cannot be
written, so a locked-down service still caches (until reboot) instead of failing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """The configured cache directory (not created)."""
    if os.environ.get("EDGESEG_CACHE"):
        return Path(os.environ["EDGESEG_CACHE"])
    if os.environ.get("CACHE_DIRECTORY"):  # systemd: the first of CacheDirectory='s paths
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgeseg"


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            return True
    except OSError:
        return False


def writable_cache(name: str) -> Path | None:
    """cache_dir()/name, or a per-user temp directory where that cannot be written; None when neither can."""
    for path in (cache_dir() / name, Path(tempfile.gettempdir()) / f"edgeseg-{os.getuid()}" / name):
        if _writable(path):
            return path
    return None
