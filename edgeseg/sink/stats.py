"""Per-frame statistics as JSON lines, flushed line by line so a killed run loses nothing written.

Usage: ``with StatsSink("stats.jsonl", classes=bundle.classes) as sink: sink.write(result)``
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError


class StatsSink:
    """One line per frame: frame, pts, pict_type, keyframe, class_fraction {class: share}, latency_ms."""

    def __init__(self, path: str | Path, *, classes: list[str]):
        self.path, self.classes = Path(path), list(classes)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write stats ({exc.strerror})") from None

    def write(self, result) -> None:
        counts = np.bincount(result.labels.ravel(), minlength=len(self.classes))[: len(self.classes)]
        share = counts / max(result.labels.size, 1)
        line = {
            "frame": result.frame.index,
            "pts": result.frame.pts,
            "pict_type": result.frame.pict_type,
            "keyframe": bool(result.keyframe),
            "class_fraction": {c: round(float(s), 6) for c, s in zip(self.classes, share, strict=True)},
            "latency_ms": round(result.latency_ms, 3),
        }
        self._fh.write(json.dumps(line) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
