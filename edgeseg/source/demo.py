"""The embedded demo clip: a short synthetic street video rendered on first use and cached.

Usage: ``open_source("demo")`` (or ``demo_clip_path()`` for the file).
The clip comes from `edgeseg synth` with a seed the reference model never saw in training; it is rendered
once (about 20 s on 2 cores, with a progress bar) into the user's cache directory, so no video file ships in
the package.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

DEMO_SEED = 4242
DEMO_FRAMES = 90
DEMO_VERSION = 1  # bump when the renderer's output changes


def cache_dir() -> Path:
    from edgeseg.system.cache import cache_dir as base

    return base()


def demo_clip_path() -> Path:
    """Path of the demo video, rendering it first if it is not cached yet."""
    from edgeseg.synth.clip import render_clip

    target = cache_dir() / f"demo-v{DEMO_VERSION}"
    video = target / "video.mp4"
    if video.is_file():
        return video
    target.parent.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    print(f"rendering the demo clip once ({DEMO_FRAMES} frames, about 20 s on 2 cores) into {target}",
          file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, \
            tqdm(total=DEMO_FRAMES, unit="frame", desc="demo clip", leave=False, disable=None) as bar:
        render_clip(Path(tmp) / "clip", frames=DEMO_FRAMES, seed=DEMO_SEED, progress=bar.update)
        try:
            os.replace(Path(tmp) / "clip", target)  # atomic: concurrent first runs never see half a clip
        except OSError:
            if not video.is_file():
                shutil.rmtree(target, ignore_errors=True)
                os.replace(Path(tmp) / "clip", target)
    return video
