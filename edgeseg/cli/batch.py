"""`edgeseg batch`: segment many videos (files, directories, @lists) into OUT/<name>/, resumably, on local
processes or a Ray cluster.

Usage: ``edgeseg batch archive/ @more.txt --out segmented --workers 8`` (docs/BATCH.md)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from edgeseg.backend.open import AUTO, BACKENDS
from edgeseg.cli.choices import backend_option
from edgeseg.cli.options import spec_options
from edgeseg.errors import ConfigError
from edgeseg.limits import ALPHA


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output directory: OUT/<name>/ per input, OUT/manifest.jsonl.")
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Model bundle directory (default: the shipped reference model).")
@spec_options
@click.option("--outputs", default="labels,stats", show_default=True,
              help="Comma-separated: labels (labels.avi, lossless JPEG-LS), stats (stats.jsonl), overlay (overlay.mp4), masks.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Local worker processes (default: the CPU count).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Run shards as Ray tasks: alone, Ray on this machine; with ADDRESS, join that cluster.")
@click.option("--gpus-per-shard", type=click.FloatRange(0, 1, min_open=True), default=None, metavar="F",
              help="With --ray: each shard's share of a GPU (0.125: eight shards per GPU). Ray hides the GPUs "
                   "from shards that ask for none.")
@click.option("--shard-frames", type=click.IntRange(1, 10_000_000), default=2000, show_default=True,
              help="Split long files at IDR frames into shards of about this many frames.")
@click.option("--retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Times a shard runs again when its worker dies.")
@backend_option()
@click.option("--alpha", type=ALPHA.click(), default=0.5, show_default=True, help="Overlay opacity.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def batch(inputs, out, model, spec, outputs, workers, ray_address, gpus_per_shard, shard_frames, retries, backend,
          alpha, progress) -> None:
    """Segment INPUT... (video files, directories searched recursively, @list.txt files) into OUT.

    Rerunning the same command skips finished inputs. Exit code 1 if any input failed.

    Example: edgeseg batch archive/ --out segmented --workers 8
    """
    from edgeseg.batch.engines import LocalEngine, RayEngine, visible_gpus
    from edgeseg.batch.job import run_batch
    from edgeseg.cli.warmup import compile_first
    from edgeseg.sink.paths import check_parent

    check_parent(out, "--out")  # OUT is created, its parent must exist (docs/OUTPUTS.md)
    if gpus_per_shard is not None and ray_address is None:
        raise ConfigError(f"--gpus-per-shard {gpus_per_shard:g}: only with --ray (local workers take the "
                          "machine's GPUs in turn)")
    kind = None if backend == AUTO else BACKENDS.get(backend)  # None: the best one on each machine
    if ray_address is not None and kind is not None and kind.on_device and gpus_per_shard is None:
        raise ConfigError(f"--backend {backend} with --ray needs --gpus-per-shard (Ray hides the GPUs from "
                          "shards that ask for none)")
    compile_first(lambda text: click.echo(text, err=True))  # every shard gets the compiled kernels (guided labels)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if ray_address is not None:
        engine = RayEngine(address=None if ray_address == "local" else ray_address, retries=retries,
                           num_cpus=workers, num_gpus=gpus_per_shard or 0.0)
        threads = 1
    else:
        gpus = visible_gpus() if kind is None or kind.on_device else ()  # each worker gets one GPU, in turn
        engine = LocalEngine(workers=workers or cpus, retries=retries, gpus=gpus)
        threads = max(1, cpus // engine.workers)
    summary = run_batch(list(inputs), out=out, spec=spec, engine=engine,
                        outputs=tuple(o.strip() for o in outputs.split(",") if o.strip()), model=model,
                        backend=backend, threads=threads, shard_frames=shard_frames, alpha=alpha,
                        progress=progress if progress is not None else sys.stderr.isatty(),
                        echo=lambda text: click.echo(text, err=True))
    click.echo(summary.line(), err=True)
    if summary.failed:
        sys.exit(1)
