"""What the segmenter gives back: one Result per frame, and the time each stage took.

Usage: ``for result in segmenter.push(frame, field): result.labels``; ``segmenter.timings.mean_ms()``
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from edgeseg.source.frame import Frame


class Result:
    """One segmented frame. labels: (H, W) uint8 at the video's resolution, value = class index.

    The segmenter may hand over a recipe instead of the map (`make(step)` → labels of every step-th pixel row
    and column, see LabelUpsampler.sampled): the labels are then computed when first read, once, on the thread
    that reads them (an output's writer thread, in parallel with the segmenter), and not at all where no output
    reads them. labels_at(step) gives an output that needs fewer pixels (class fractions) its labels at 1/step²
    of the cost. Thread-safe.
    """

    __slots__ = ("frame", "keyframe", "latency_ms", "extra", "_labels", "_make", "_lock", "_sampled",
                 "_sampled_lock")

    def __init__(self, frame: Frame, labels: np.ndarray | None, keyframe: bool, latency_ms: float, *,
                 make: Callable[[int], np.ndarray] | None = None):
        if labels is None and make is None:
            raise ValueError("a Result needs labels or a way to make them")
        self.frame, self.keyframe, self.latency_ms = frame, keyframe, latency_ms  # latency: push() to result
        self.extra: dict = {}  # annotations for the stats line (the service's connection, audit agreement)
        self._labels, self._make, self._lock, self._sampled = labels, make, threading.Lock(), {}
        self._sampled_lock = threading.Lock()  # the full map and a sampled one may be made at once

    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            with self._lock:
                if self._labels is None:
                    self._labels = self._make(1)
        return self._labels

    def labels_at(self, step: int) -> np.ndarray:
        """The labels of every step-th row and column from step // 2 (the middle of each step × step block):
        computed at that size where the labels are deferred, else sampled from the full map."""
        if step == 1:
            return self.labels
        if self._make is None:
            o = step // 2
            return self.labels[o::step, o::step]
        with self._sampled_lock:
            if step not in self._sampled:
                self._sampled[step] = self._make(step)
            return self._sampled[step]

    def __repr__(self) -> str:
        return f"Result(frame={self.frame.index}, keyframe={self.keyframe}, latency_ms={self.latency_ms:.2f})"


class StageTimes:
    """Accumulated seconds and calls per stage (prep, feature, task, labels, labels-sampled, warp, carry: the
    colours non-keyframes came with and the correction): for benchmarks. Labels are timed where they are made
    (an output's thread, see Result)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()  # labels are made on the outputs' threads

    def add(self, stage: str, t0: float) -> float:
        """Count the time since t0 for `stage`; returns now (the next stage's t0)."""
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
            self.calls[stage] = self.calls.get(stage, 0) + 1
        return now

    def mean_ms(self) -> dict[str, float]:
        return {k: 1e3 * v / self.calls[k] for k, v in self.seconds.items()}
