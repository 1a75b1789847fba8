"""`edgeseg warmup`: compile the numba kernels into the cache now, instead of in the first run's background."""

from __future__ import annotations

import click


@click.command()
@click.option("--force", is_flag=True, help="Compile even if the cache says the kernels are ready.")
def warmup(force: bool) -> None:
    """Compile the kernels for this installation (install scripts and service units run this).

    Example: edgeseg warmup
    """
    from edgeseg import jit

    if jit.mode() == "off" or jit._numba() is None:
        click.echo(f"compiled kernels: {jit.status()}; nothing to do")
        return
    marker = jit._marker()
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

        seconds = jit.warm_up(progress=progress)
    click.echo(f"compiled kernels in {seconds:.1f} s into {jit.kernel_cache_dir()}")
