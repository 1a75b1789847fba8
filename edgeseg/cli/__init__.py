"""The `edgeseg` command line: a thin click layer over the library.

Usage: ``edgeseg --help``. Each subcommand lives in its own module and is registered here;
library errors (EdgesegError) become a one-line ``Error: ...`` and exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib

import click

from edgeseg import __version__
from edgeseg.errors import EdgesegError

# name → "module:function"; modules are imported only when their command runs (keeps startup lean).
_COMMANDS = {
    "info": "edgeseg.cli.info:info",
    "motion": "edgeseg.cli.motion:motion",
    "export": "edgeseg.cli.export:export",
    "inspect": "edgeseg.cli.inspect:inspect",
    "verify": "edgeseg.cli.verify:verify",
    "build-engines": "edgeseg.cli.build_engines:build_engines",
    "run": "edgeseg.cli.run:run",
    "batch": "edgeseg.cli.batch:batch",
    "synth": "edgeseg.cli.synth:synth",
    "bench": "edgeseg.cli.bench:bench",
    "serve": "edgeseg.cli.serve:serve",
    "warmup": "edgeseg.cli.warmup:warmup",
}


class _Group(click.Group):
    """Lazily loaded subcommands; EdgesegError → click's one-line error."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EdgesegError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgeseg")
def main() -> None:
    """Fast semantic segmentation of video: keyframe features moved by H.264 block motion."""


def register(name: str, target: str) -> None:
    """Add a subcommand given as "module:function" (used by optional components)."""
    _COMMANDS[name] = target
