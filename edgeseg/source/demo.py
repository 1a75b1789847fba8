"""The embedded demo clip: a short synthetic street video rendered on first use and cached.

Usage: ``open_source("demo")`` (or ``demo_clip_path()`` for the file).
The clip comes from `edgeseg synth` with a seed the reference model never saw in training; it is rendered
once (a few seconds) into the user's cache directory, so no video file ships in the package.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

DEMO_SEED = 4242
DEMO_FRAMES = 90
DEMO_VERSION = 1  # bump when the renderer's output changes


def cache_dir() -> Path:
    base = os.environ.get("EDGESEG_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgeseg"


def demo_clip_path() -> Path:
    """Path of the demo video, rendering it first if it is not cached yet."""
    from edgeseg.synth.clip import render_clip

    target = cache_dir() / f"demo-v{DEMO_VERSION}"
    video = target / "video.mp4"
    if video.is_file():
        return video
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        render_clip(Path(tmp) / "clip", frames=DEMO_FRAMES, seed=DEMO_SEED)
        try:
            os.replace(Path(tmp) / "clip", target)  # atomic: concurrent first runs never see half a clip
        except OSError:
            if not video.is_file():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(Path(tmp) / "clip", target)
    return video
