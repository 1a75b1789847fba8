"""`edgeseg build-engines BUNDLE`: build the bundle's TensorRT engines for this GPU (cached per device).

Usage: ``edgeseg build-engines bundle/ --precision fp16 --max-batch 4``
"""

from __future__ import annotations

import click


@click.command("build-engines")
@click.argument("bundle", type=click.Path())
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), help="Default: the bundle's precision.")
@click.option("--max-batch", type=click.IntRange(1, 256), default=8, show_default=True,
              help="Largest batch of the dynamic-batch optimisation profile.")
@click.option("--force", is_flag=True, help="Rebuild even when up-to-date engines exist.")
def build_engines(bundle, precision, max_batch, force):
    """Build TensorRT engines (feature, task, task_labels) for this GPU, TensorRT version and precision."""
    from edgeseg.backend import engines
    from edgeseg.backend.bundle import load_bundle

    b = load_bundle(bundle)
    paths = engines.build_engines(b, precision=precision, max_batch=max_batch, force=force,
                                  log=lambda m: click.echo(m, err=True))
    for net, path in paths.items():
        click.echo(f"{net:12s} {path}")
