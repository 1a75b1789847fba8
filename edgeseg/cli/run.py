"""`edgeseg run`: segment a file, RTSP stream, camera or the demo clip."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeseg.pipeline.segmenter import MODES
from edgeseg.warp.fuse import FUSIONS

DEMO_OVERLAY = "edgeseg-demo.mp4"


@click.command()
@click.argument("source")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Model bundle directory (default: the shipped reference model).")
@click.option("--mode", type=click.Choice(MODES), default="interp", show_default=True,
              help="interp/prop: block-motion features; frame: full model every frame; reuse, flow: baselines.")
@click.option("--keyframe-interval", "-k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Frames between keyframes (the feature network runs on keyframes).")
@click.option("--keyframes", type=click.Choice(["fixed", "adaptive"]), default="fixed", show_default=True,
              help="fixed: every K frames; adaptive: placed by motion/intra signals under --keyframe-budget.")
@click.option("--keyframe-budget", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="adaptive: average fraction of keyframes (default 1/K).")
@click.option("--max-keyframe-interval", type=click.IntRange(min=1), default=None,
              help="adaptive: longest gap between keyframes (default 1.2 / budget).")
@click.option("--iframe-keys/--no-iframe-keys", default=True, show_default=True,
              help="Also make I-frames and scene cuts keyframes.")
@click.option("--fusion", type=click.Choice(FUSIONS), default="linear", show_default=True,
              help="interp: blend weights; photometric also weighs each keyframe per cell by how well its warped "
                   "pixels match the frame (more accurate, a little slower).")
@click.option("--backend", type=click.Choice(["auto", "trt", "ort-cuda", "ort-cpu"]), default="auto",
              show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for onnxruntime.")
@click.option("--overlay", type=click.Path(path_type=Path), default=None, help="Write a colour overlay video (.mp4).")
@click.option("--masks", type=click.Path(path_type=Path), default=None, help="Write frame-<i>.png label masks here.")
@click.option("--stats", type=click.Path(path_type=Path), default=None, help="Write one JSON line per frame.")
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Overlay opacity.")
@click.option("--overlay-scale", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Overlay size relative to the input (e.g. 0.5 for a preview).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N frames.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal, for files).")
def run(source, model, mode, keyframe_interval, keyframes, keyframe_budget, max_keyframe_interval, iframe_keys,
        fusion, backend, threads, overlay, masks, stats, alpha, overlay_scale, max_frames, progress) -> None:
    """Segment SOURCE: a video file, rtsp:// URL, cameraN or /dev/videoN, or `demo`.

    Example: edgeseg run clip.mp4 --overlay out.mp4 --stats stats.jsonl
    """
    from edgeseg.pipeline.session import segment_source

    if source == "demo" and overlay is None and masks is None and stats is None:
        overlay = Path(DEMO_OVERLAY)
    summary = segment_source(
        source, bundle=model, mode=mode, keyframe_interval=keyframe_interval, iframe_keys=iframe_keys,
        keyframes=keyframes, keyframe_budget=keyframe_budget, max_keyframe_interval=max_keyframe_interval,
        fusion=fusion, backend=backend, threads=threads, overlay=overlay, masks=masks, stats=stats, alpha=alpha,
        overlay_scale=overlay_scale, max_frames=max_frames, progress=progress if progress is not None else sys.stderr.isatty(),
        handle_signals=True,
    )
    click.echo(summary.line(), err=True)
    if model is None and source != "demo":  # any backend: the shipped model is synthetic-only
        from edgeseg.info import reference_model_note

        click.echo(reference_model_note(), err=True)
    from edgeseg import jit

    if jit.compiling():
        click.echo("kernels: NumPy paths this run; numba compiles them in the background for later runs "
                   "(`edgeseg warmup` does it now)", err=True)
    if overlay is not None:
        click.echo(f"overlay: {overlay.resolve()}")
    if summary.interrupted:
        sys.exit(130 if summary.extra.get("signal") == "SIGINT" else 143)
