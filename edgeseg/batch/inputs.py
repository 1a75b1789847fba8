"""The inputs of a batch: video files, directories searched recursively, and @lists; each with its output name.

Usage: ``items = expand_inputs(["archive/", "@more.txt", "one.mp4"])`` → [Input(path, name), ...]

A name is the input's path relative to the common root of all inputs (``2024/cam1/clip.mp4``), so same-named
files in different folders never share an output directory. Paths that do not exist stay in the list: the
batch records them as failed, with the cause.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import ConfigError

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".ts", ".flv", ".h264", ".264"})


@dataclass(frozen=True)
class Input:
    """One input file (absolute path) and its output name (relative, '/'-separated)."""

    path: str
    name: str


def _listed(spec: str) -> list[str]:
    """The paths of an @list file, one per line (blank lines and # comments skipped), relative to the list."""
    listing = Path(spec[1:])
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{listing}: cannot read the input list ({exc.strerror})") from None
    paths = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [p if os.path.isabs(p) else str(listing.parent / p) for p in paths]


def _videos(directory: Path, skip: Path | None) -> list[str]:
    found = (p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    return sorted(str(p) for p in found if skip is None or not p.resolve().is_relative_to(skip))


def expand_inputs(specs: list[str], *, skip: str | Path | None = None) -> list[Input]:
    """Files, directories (recursively, video suffixes) and @lists → unique inputs in the order given.
    skip: a folder whose files are never inputs (the batch's output folder, when it lies inside an input's)."""
    paths: list[str] = []
    skip = Path(skip).resolve() if skip is not None else None
    for spec in specs:
        if spec.startswith("@"):
            for p in _listed(spec):
                paths += _videos(Path(p), skip) if Path(p).is_dir() else [p]
        elif Path(spec).is_dir():
            paths += _videos(Path(spec), skip)
        else:
            paths.append(spec)
    unique = list(dict.fromkeys(os.path.abspath(p) for p in paths))
    if not unique:
        raise ConfigError(f"{' '.join(specs)}: no video files found")
    root = os.path.commonpath([os.path.dirname(p) for p in unique])
    return [Input(p, Path(os.path.relpath(p, root)).as_posix()) for p in unique]
