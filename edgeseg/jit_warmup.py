"""What `edgeseg.jit.warm_up` runs: a tiny clip through every mode and output, so that numba compiles each
kernel for the argument types a real run gives it.

Usage: ``exercise(Path(tmp))`` (in a process with EDGESEG_JIT=inline)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (mode, fusion, overlay scale): every kernel path of the runtime (scale < 1 blends the overlay in RGB)
RUNS = (("interp", "linear", 1.0), ("interp", "photometric", 0.5), ("prop", "linear", 1.0), ("frame", "linear", 1.0))


def tiny_clip(path: Path, *, size=(96, 128), frames: int = 9) -> Path:
    """Smooth texture panning by a few pixels per frame, H.264 with B-frames (real motion vectors)."""
    from edgeseg.sink.video import VideoWriter

    h, w = size
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 255, ((h + 64) // 8, (w + 64) // 8, 3), dtype=np.uint8)
    texture = coarse.repeat(8, axis=0).repeat(8, axis=1)
    with VideoWriter(path, fps=25, width=w, height=h, bframes=2, preset="ultrafast", options={"threads": "1"}) as out:
        for t in range(frames):
            out.write(np.ascontiguousarray(texture[2 * t:2 * t + h, 3 * t:3 * t + w]))
    return path


def exercise(tmp: Path, *, progress=None) -> None:
    from edgeseg.pipeline.session import segment_source

    # two widths: decoder planes without row padding (contiguous arrays) and with it (strided ones)
    clips = [tiny_clip(tmp / "a.mp4", size=(96, 128)), tiny_clip(tmp / "b.mp4", size=(90, 120))]
    steps = [(clip, *run) for run in RUNS for clip in clips]
    for i, (clip, mode, fusion, scale) in enumerate(steps):
        out = tmp / f"run{i}"
        segment_source(str(clip), mode=mode, fusion=fusion, keyframe_interval=3, threads=1,
                       overlay=out / "o.mp4", overlay_scale=scale, stats=out / "s.jsonl", masks=out / "m")
        if progress is not None:
            progress(i + 1, len(steps))
