"""What the segmenter gives back: one Result per frame, and the time each stage took.

Usage: ``for result in segmenter.push(frame, field): result.labels``; ``segmenter.timings.mean_ms()``
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edgeseg.source.frame import Frame


@dataclass(slots=True)
class Result:
    """One segmented frame. labels: (H, W) uint8 at the video's resolution, value = class index."""

    frame: Frame
    labels: np.ndarray
    keyframe: bool
    latency_ms: float  # from push() of this frame to its result


class StageTimes:
    """Accumulated seconds and calls per stage (prep, feature, task, labels, warp, carry: the colours non-keyframes
    came with and the correction): for benchmarks."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, stage: str, t0: float) -> float:
        """Count the time since t0 for `stage`; returns now (the next stage's t0)."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
        self.calls[stage] = self.calls.get(stage, 0) + 1
        return now

    def mean_ms(self) -> dict[str, float]:
        return {k: 1e3 * v / self.calls[k] for k, v in self.seconds.items()}
