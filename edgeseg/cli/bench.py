"""`edgeseg bench`: accuracy vs throughput for every mode and keyframe interval (the paper's Table 1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from edgeseg.cli.choices import backend_option
from edgeseg.limits import MAX_FRAMES, THREADS


@click.command()
@click.argument("source")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="Bundle (default: reference model).")
@click.option("--labels", "labels_dir", type=click.Path(path_type=Path), default=None,
              help="Ground truth DIR/frame-000000.png, … (also gives VC_8/VC_16); without it, agreement with frame mode "
                   "is measured.")
@click.option("--modes", default="frame,reuse,flow,prop,interp", show_default=True)
@click.option("--intervals", default="1,2,3,4,5,6,7,8,9,10", show_default=True)
@click.option("--adaptive", "adaptive", default="5,10", show_default=True,
              help="Also adaptive-keyframe rows for prop/interp with the budget of these fixed intervals ('' = none).")
@click.option("--fusion", "fusion", default="linear,photometric", show_default=True,
              help="interp's fusion weights: linear, photometric, or both (a row each).")
@click.option("--correct", "correct", default="0,0.25", show_default=True,
              help="prop/interp rows once per correction budget (0 = without; e.g. 0,0.25).")
@click.option("--guide", "guide", type=click.Choice(["on", "off", "off,on"]), default="on", show_default=True,
              help="Rows with labels guided by each frame's pixels (on), plain (off), or both. The reference "
                   "row is always frame mode unguided.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write the report here.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Write accuracy vs throughput (PNG).")
@click.option("--max-frames", type=MAX_FRAMES.click(), default=None)
@click.option("--threads", type=THREADS.click(), default=None, help="CPU threads for onnxruntime.")
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Timing passes; fps and speedup are medians over them (noisy machines).")
@backend_option()
def bench(source, model, labels_dir, modes, intervals, adaptive, fusion, correct, guide, json_path, plot_path,
          max_frames, threads, repeat, backend) -> None:
    """Measure fps, speedup and avg/min mIoU of each mode at each keyframe interval, in one run (with --labels
    also VSPW's video consistency VC_8 / VC_16); under the table, the frontier: the fastest row within each
    accuracy budget (avg/min mIoU drop) against frame mode, and against frame mode guided when that is a row.

    Example: edgeseg bench clip/video.mp4 --labels clip/labels --intervals 2,5,10 --plot fig.png
    """
    from edgeseg.backend.networks import open_networks
    from edgeseg.bench.grid import BenchGrid
    from edgeseg.bench.table import (
        benchmark,
        format_table,
        parse_corrections,
        parse_fusions,
        parse_intervals,
        parse_modes,
        plot,
    )
    from edgeseg.cli.warmup import compile_first
    from edgeseg.pipeline.modes import MODES
    from edgeseg.system.extras import require

    mode_list, ks, fusions = parse_modes(modes), parse_intervals(intervals), parse_fusions(fusion)
    corrections = parse_corrections(correct)
    for mode in mode_list:  # a mode's optional module (flow: OpenCV): fail now, not after the other modes ran
        needs = MODES.meta(mode)["needs"]
        if needs:
            require(needs, purpose=f"--modes {mode} (or leave {mode} out of --modes)")
    if plot_path is not None:
        require("matplotlib", purpose="--plot")
    adaptive_ks = parse_intervals(adaptive) if adaptive.strip() else []
    compile_first(lambda text: click.echo(text, err=True))  # else NumPy paths and plain labels are measured
    nets, bundle = open_networks(model, backend=backend, threads=threads)

    def progress(i, n, mode, k):
        if sys.stderr.isatty():
            click.echo(f"\r[{i + 1}/{n}] {mode} K={k} ...", err=True, nl=False)

    grid = BenchGrid(modes=tuple(mode_list), intervals=tuple(ks), adaptive_intervals=tuple(adaptive_ks),
                     fusions=tuple(fusions), corrections=tuple(corrections),
                     guides=tuple(g == "on" for g in guide.split(",")))
    report = benchmark(source, grid, nets=nets, bundle=bundle, labels_dir=labels_dir, max_frames=max_frames,
                       repeat=repeat, progress=progress)
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(format_table(report))
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    if plot_path is not None:
        plot(report, plot_path)
