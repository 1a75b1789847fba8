"""`edgeseg export` through click's runner for the export tests (importable from tests as ``import export_cli``).

Usage: ``out = export_cli.ok("reference", "--out", d)``; ``line = export_cli.fails("nope", "--out", d)``
"""

from __future__ import annotations

from click.testing import CliRunner

from edgeseg.cli import main


def ok(*args) -> str:
    """Run `edgeseg export ARGS`; assert success; return the output."""
    res = CliRunner().invoke(main, ["export", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.output


def fails(*args) -> str:
    """Run `edgeseg export ARGS`; assert exit code 1 with exactly one `Error: ` line and no traceback; return it."""
    res = CliRunner().invoke(main, ["export", *map(str, args)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, res.output
    return lines[0]
