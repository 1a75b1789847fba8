"""Per-frame statistics as JSON lines, flushed line by line so a killed run loses nothing written.

Usage: ``with StatsSink("stats.jsonl", classes=bundle.classes) as sink: sink.write(result)``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.sink.paths import check_parent
from edgeseg.system.jit import compiled


def _count_into(labels, counts):
    """counts[v] += 1 for every label value v (numba-compiled; np.bincount first widens to int64)."""
    for i in range(labels.shape[0]):
        for j in range(labels.shape[1]):
            counts[labels[i, j]] += 1


def class_fractions(labels: np.ndarray, classes: list[str]) -> dict[str, float]:
    """{class: share of the pixels}, rounded to 6 decimals (indices beyond `classes` count in the total)."""
    kernel = compiled(_count_into)
    if kernel is not None and labels.ndim == 2 and labels.dtype == np.uint8:
        counts = np.zeros(256, np.int64)
        kernel(labels, counts)
    else:
        counts = np.bincount(labels.ravel(), minlength=len(classes))
    share = counts[: len(classes)] / max(labels.size, 1)
    return {c: round(float(s), 6) for c, s in zip(classes, share, strict=True)}


STATS_SIDE = 480  # class fractions are counted on labels of at most about this many pixels along the long side


def sampled_hw(hw: tuple[int, int], step: int) -> tuple[int, int]:
    """The size of Result.labels_at(step) for a video of size hw (every step-th row and column from step // 2)."""
    return tuple(len(range(step // 2, n, step)) for n in hw)


def stats_step(hw: tuple[int, int]) -> int:
    """The pixel step of the labels that class fractions are counted on: 1 up to 480 pixels along the long side
    (every pixel), 2 at 960×540, 3 at 720p, 4 at 1080p (within 0.5 points of every pixel, tests/sink)."""
    return max(1, -(-max(hw) // STATS_SIDE))


def result_fractions(result, classes: list[str]) -> dict[str, float]:
    """{class: share of the frame} of a Result, counted on its labels at stats_step (made at that size where
    they are deferred: 1/step² of the full map's cost)."""
    return class_fractions(result.labels_at(stats_step((result.frame.height, result.frame.width))), classes)


def stats_line(result, classes: list[str], extra: dict | None = None) -> dict:
    """The stats schema, the same for run, batch and serve: time (wall clock when written, s), frame, pts,
    pict_type, keyframe, class_fraction {class: share}, latency_ms, then any extra keys."""
    return {"time": round(time.time(), 3), "frame": result.frame.index, "pts": result.frame.pts,
            "pict_type": result.frame.pict_type, "keyframe": bool(result.keyframe),
            "class_fraction": result_fractions(result, classes), "latency_ms": round(result.latency_ms, 3),
            **(extra or {})}


class StatsSink:
    """One line per frame (stats_line), flushed as written."""

    def __init__(self, path: str | Path, *, classes: list[str], zones=None):
        """zones: result → {zone: {class: share}} (edgeseg.sink.zones.ZoneCounter); each line then carries it."""
        self.path, self.classes = Path(path), list(classes)
        self._zones = zones
        self.lines = 0
        check_parent(self.path, "stats")
        try:
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write stats ({exc.strerror})") from None

    def write(self, result) -> None:
        """One line; the result's `extra` keys (the service's connection and audit agreement) join it."""
        line = stats_line(result, self.classes, getattr(result, "extra", None))
        if self._zones is not None:
            line["zones"] = self._zones(result)
        self._fh.write(json.dumps(line) + "\n")
        self._fh.flush()
        self.lines += 1

    def close(self) -> None:
        """Close the file; a run that ended before its first frame leaves no empty file behind."""
        if self._fh.closed:
            return
        self._fh.close()
        if self.lines == 0:
            self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
