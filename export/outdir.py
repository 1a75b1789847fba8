"""The bundle directory of `edgeseg export`: written whole or not at all.

Usage: ``with staged(out) as stage: write_files(stage)`` → the files are in ``out`` once the block succeeds

An export writes into a hidden staging directory beside ``out`` (``.NAME.partial-XXXXXXXX``) and moves the
finished bundle into place at the end. A failure (a bad input found midway, an interrupt) removes the staging
directory, so a failed export leaves nothing behind; a directory ``out`` that existed before is left exactly as
it was (an older bundle in it stays intact). ``out`` goes into an existing directory: its missing parents are
never created (docs/OUTPUTS.md).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgeseg.errors import ExportError
from edgeseg.sink.paths import check_parent


@contextmanager
def staged(out: str | Path) -> Iterator[Path]:
    """A fresh staging directory for `out`; its contents replace those of `out` (created if missing) when the
    block ends without an exception; otherwise it is removed. `out`'s parent must exist (docs/OUTPUTS.md)."""
    out = check_parent(out, "--out")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: output directory not writable (a file of that name exists)")
    stage = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    try:
        stage.mkdir()
    except OSError as exc:
        raise ExportError(f"{out}: output directory not writable ({exc.strerror or type(exc).__name__})") from None
    try:
        yield stage
        _move_into(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _move_into(stage: Path, out: Path) -> None:
    """The staged files into `out`: one rename where `out` is new, else file by file (same names replaced)."""
    if not out.exists():
        stage.rename(out)
        return
    for item in sorted(stage.iterdir()):
        target = out / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)
    stage.rmdir()
