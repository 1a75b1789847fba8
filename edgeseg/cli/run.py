"""`edgeseg run`: segment a file, RTSP stream, camera or the demo clip."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgeseg.cli.choices import backend_option
from edgeseg.cli.options import output_options, spec_options
from edgeseg.limits import MAX_FRAMES, THREADS, TIMEOUT_S

DEMO_OVERLAY = "edgeseg-demo.mp4"


@click.command()
@click.argument("source")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Model bundle directory (default: the shipped reference model).")
@spec_options
@backend_option()
@click.option("--threads", type=THREADS.click(), default=None, help="CPU threads for onnxruntime.")
@output_options
@click.option("--max-frames", type=MAX_FRAMES.click(), default=None, help="Stop after N frames.")
@click.option("--timeout", type=TIMEOUT_S.click(), default=10.0, show_default=True,
              help="Seconds to connect / per read (RTSP, cameras).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal, for files).")
def run(source, model, spec, outputs, backend, threads, max_frames, timeout, progress) -> None:
    """Segment SOURCE: a video file, rtsp:// URL, cameraN or /dev/videoN, or `demo`.

    Example: edgeseg run clip.mp4 --overlay out.mp4 --stats stats.jsonl
    """
    from edgeseg.pipeline.session import segment_source

    if source == "demo" and not outputs.requested:
        outputs = outputs.replace(overlay=Path(DEMO_OVERLAY))
    summary = segment_source(
        source, spec, outputs=outputs, model=model, backend=backend, threads=threads, max_frames=max_frames,
        timeout=timeout,
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
    if outputs.overlay is not None:
        click.echo(f"overlay: {Path(outputs.overlay).resolve()}")
    if summary.interrupted:
        sys.exit(130 if summary.extra.get("signal") == "SIGINT" else 143)
