"""`edgeseg run`: segment a file, RTSP stream, camera or the demo clip."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeseg.cli.choices import backend_option
from edgeseg.cli.options import spec_options
from edgeseg.limits import ALPHA, MAX_FRAMES, OVERLAY_SCALE, THREADS, TIMEOUT_S

DEMO_OVERLAY = "edgeseg-demo.mp4"


@click.command()
@click.argument("source")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Model bundle directory (default: the shipped reference model).")
@spec_options
@backend_option()
@click.option("--threads", type=THREADS.click(), default=None, help="CPU threads for onnxruntime.")
@click.option("--overlay", type=click.Path(path_type=Path), default=None, help="Write a colour overlay video (.mp4).")
@click.option("--masks", type=click.Path(path_type=Path), default=None,
              help="Write label masks here, one PNG per frame: frame-000000.png, …")
@click.option("--stats", type=click.Path(path_type=Path), default=None, help="Write one JSON line per frame.")
@click.option("--alpha", type=ALPHA.click(), default=0.5, show_default=True, help="Overlay opacity.")
@click.option("--overlay-scale", type=OVERLAY_SCALE.click(), default=1.0, show_default=True,
              help="Overlay size relative to the input (e.g. 0.5 for a preview).")
@click.option("--max-frames", type=MAX_FRAMES.click(), default=None, help="Stop after N frames.")
@click.option("--timeout", type=TIMEOUT_S.click(), default=10.0, show_default=True,
              help="Seconds to connect / per read (RTSP, cameras).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal, for files).")
def run(source, model, spec, backend, threads, overlay, masks, stats, alpha, overlay_scale, max_frames, timeout,
        progress) -> None:
    """Segment SOURCE: a video file, rtsp:// URL, cameraN or /dev/videoN, or `demo`.

    Example: edgeseg run clip.mp4 --overlay out.mp4 --stats stats.jsonl
    """
    from edgeseg.pipeline.session import segment_source

    if source == "demo" and overlay is None and masks is None and stats is None:
        overlay = Path(DEMO_OVERLAY)
    summary = segment_source(
        source, spec, model=model, backend=backend, threads=threads, overlay=overlay, masks=masks, stats=stats,
        alpha=alpha, overlay_scale=overlay_scale, max_frames=max_frames, timeout=timeout,
        progress=progress if progress is not None else sys.stderr.isatty(),
        handle_signals=True,
    )
    click.echo(summary.line(), err=True)
    if model is None and source != "demo":  # any backend: the shipped model is synthetic-only
        from edgeseg.system.info import reference_model_note

        click.echo(reference_model_note(), err=True)
    from edgeseg.system import jit

    notice = jit.notice()
    if notice:
        click.echo(notice, err=True)
    if overlay is not None:
        click.echo(f"overlay: {overlay.resolve()}")
    if summary.interrupted:
        sys.exit(130 if summary.extra.get("signal") == "SIGINT" else 143)
