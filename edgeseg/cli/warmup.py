"""`edgeseg warmup`: compile the numba kernels into the cache now, instead of in the first run's background.

Usage: ``edgeseg warmup``; ``python -m edgeseg.cli.warmup`` is the background compile that edgeseg.system.jit
starts (idle CPU only) when a run found the kernels not compiled yet. Both run a tiny clip through every mode
and output, so that numba compiles each kernel for the argument types a real run gives it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
import numpy as np

# (mode, fusion, overlay scale, guide): every kernel path of the runtime (scale < 1 blends the overlay in RGB;
# guide: labels guided by the pixels, else plain upsampling)
RUNS = (("interp", "linear", 1.0, False), ("interp", "photometric", 0.5, True), ("prop", "linear", 1.0, True),
        ("frame", "linear", 1.0, True), ("prop", "linear", 1.0, False))


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
    from edgeseg.pipeline.spec import SegmentSpec
    from edgeseg.sink.outputs import OutputSpec

    # two widths: decoder planes without row padding (contiguous arrays) and with it (strided ones)
    clips = [tiny_clip(tmp / "a.mp4", size=(96, 128)), tiny_clip(tmp / "b.mp4", size=(90, 120))]
    steps = [(clip, *run) for run in RUNS for clip in clips]
    for i, (clip, mode, fusion, scale, guide) in enumerate(steps):
        out = tmp / f"run{i}"
        out.mkdir()
        segment_source(str(clip), SegmentSpec(mode=mode, fusion=fusion, keyframe_interval=3, guide=guide),
                       threads=1, outputs=OutputSpec(overlay=out / "o.mp4", overlay_scale=scale, stats=out / "s.jsonl",
                                                     masks=out / "m", label_video=out / "l.avi"))
        if progress is not None:
            progress(i + 1, len(steps))
    # the prior-agreement rule: what sources without decoder planes (nothing to identify frames from) run
    from edgeseg.motion.dense import MotionFieldBuilder
    from edgeseg.source import open_source

    with open_source(str(clips[0])) as src:
        list(MotionFieldBuilder(max_refs=4, identify=False).fields(src))


def warm_up(*, progress=None) -> float:
    """Compile every kernel into the cache by running a tiny clip through each mode and output; writes the
    marker; returns the seconds it took. Needs EDGESEG_JIT=inline (set here for this process)."""
    import tempfile

    from edgeseg.system import jit

    os.environ["EDGESEG_JIT"] = "inline"
    jit.reset()
    marker = jit.ready_marker()
    if marker is None:
        return 0.0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        exercise(Path(tmp), progress=progress)
    seconds = time.perf_counter() - start
    marker.write_text(f"{seconds:.1f} s\n")
    jit.record_compile(seconds)  # the estimate a run gives while a later compile is still running
    return seconds


def compile_first(echo) -> None:
    """Commands that measure or process in bulk (bench, batch): compile the kernels now if this machine's cache
    is cold, instead of running the NumPy paths and plain labels until a background compile is done."""
    from edgeseg.system import jit

    if jit.compiling():
        echo("compiling the kernels first (once per machine) ...")
        warm_up()


def background() -> int:
    """The background compile: one process at a time (a lock in the cache), none once the marker exists."""
    from edgeseg.system import jit

    with jit.compile_lock() as held:  # records when this compile started (runs meanwhile say so)
        if not held:
            return 0  # another process is compiling: it writes the marker
        os.environ["EDGESEG_JIT"] = "inline"
        jit.reset()
        if jit.ready_marker() is not None and jit.ready_marker().exists():
            return 0  # done by another process in the meantime
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} compiled kernels in {warm_up():.1f} s", flush=True)
    return 0


@click.command()
@click.option("--force", is_flag=True, help="Compile even if the cache says the kernels are ready.")
def warmup(force: bool) -> None:
    """Compile the kernels for this installation (install scripts and service units run this).

    Example: edgeseg warmup
    """
    from edgeseg.system import jit

    if jit.mode() == "off" or jit.numba_module() is None:
        click.echo(f"compiled kernels: {jit.status()}; nothing to do")
        return
    marker = jit.ready_marker()
    if marker is None:
        raise click.ClickException("no writable cache directory for compiled kernels (set NUMBA_CACHE_DIR)")
    if marker.exists() and not force:
        click.echo(f"compiled kernels already in {jit.kernel_cache_dir()}")
        return
    from tqdm import tqdm

    with tqdm(total=None, unit="run", desc="compiling kernels", leave=False, disable=None) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)

        seconds = warm_up(progress=progress)
    click.echo(f"compiled kernels in {seconds:.1f} s into {jit.kernel_cache_dir()}")


if __name__ == "__main__":
    from edgeseg.cli.warmup import background as main  # the package's module, not this __main__ copy

    sys.exit(main())
