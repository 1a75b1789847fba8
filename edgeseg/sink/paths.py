"""Where outputs may be written: the one policy every output of run, batch and motion follows.

Usage: ``check_parent(path, "--overlay")``; ``created = make_dir(directory, "--masks")``

Policy (docs/OUTPUTS.md): an output file or directory named by the user goes into a directory that already
exists, as with ffmpeg and mkdir; edgeseg creates the named directory itself but never its missing parents,
so a typo cannot scatter directories over the filesystem. A command that fails before writing anything
removes what it created.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import ConfigError


def check_parent(path: str | Path, what: str) -> Path:
    """path, if the directory it goes into exists; ConfigError naming the option and the directory if not."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        cause = "is not a directory" if parent.exists() else "does not exist"
        raise ConfigError(f"{what} {path}: directory {parent} {cause}")
    return path


def make_dir(directory: str | Path, what: str) -> bool:
    """Create `directory` (not its parents); True when it was created here, False when it existed."""
    directory = check_parent(directory, what)
    if directory.is_dir():
        return False
    try:
        directory.mkdir()
    except OSError as exc:
        raise ConfigError(f"{what} {directory}: cannot create the directory ({exc.strerror})") from None
    return True
