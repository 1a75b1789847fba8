"""Adaptive keyframes from compressed-domain signals, under a keyframe budget.

Usage: ``policy = AdaptiveKeyframes(budget=0.1, max_interval=20); policy.decide(frame, field, since_key)``

What the stream already says, for free, about how stale the keyframe's features are:
- I-frames and scene cuts (a P/B frame that is mostly intra-coded): new content, always a keyframe;
- the share of intra-coded / uncovered cells in the frame's field (disocclusion, new objects);
- the motion-vector energy, accumulated since the keyframe (large displacement = larger warping error).
Each frame adds `intra_weight · invalid share + motion_weight · mean |displacement| / stride` to a staleness
score; a keyframe is placed when the score crosses a threshold that a budget controller adapts so that, on
average, `budget` of the frames are keyframes (forced cuts included). `max_interval` caps any gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame


@dataclass(kw_only=True)
class AdaptiveKeyframes:
    """Budgeted, signal-driven keyframe placement. Deterministic: same stream → same decisions."""

    budget: float  # average fraction of frames that may be keyframes, 0 < budget ≤ 1
    max_interval: int = 30
    at_iframes: bool = True
    cut_valid_fraction: float = 0.25
    intra_weight: float = 4.0
    motion_weight: float = 1.0
    burst: float = 4.0  # keyframes' worth of budget that calm stretches may save for busy ones
    gain: float = 0.02  # how fast the threshold follows the budget (per frame, in log units)
    _threshold: float = field(default=1.0, init=False)
    _staleness: float = field(default=0.0, init=False)
    _credit: float = field(default=1.0, init=False)

    def __post_init__(self):
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"keyframe budget must be in (0, 1], got {self.budget}")
        if self.max_interval < 1:
            raise ValueError(f"max keyframe interval must be ≥ 1, got {self.max_interval}")

    def signal(self, field: MotionField | None) -> float:
        """This frame's staleness increment (0 without a field)."""
        if field is None or field.valid.size == 0:
            return 0.0
        invalid = 1.0 - field.valid_fraction
        if field.valid.any():
            mag = np.hypot(field.dx[field.valid], field.dy[field.valid])
            motion = float(mag.mean()) / field.stride
        else:
            motion = 0.0
        return self.intra_weight * invalid + self.motion_weight * motion

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        self._credit = min(self._credit + self.budget, self.burst)  # bounded: calm saves only `burst` keyframes
        self._staleness += self.signal(field)
        cut = self.at_iframes and (frame.pict_type == "I" or (
            field is not None and field.valid_fraction < self.cut_valid_fraction))
        due = self._staleness >= self._threshold and self._credit >= 1.0
        key = cut or due or since_key >= self.max_interval
        # Budget control: keyframes spend credit; the threshold drifts so the bucket stays half full
        # (falls while credit piles up unspent, rises while spending outruns the budget).
        if key:
            self._credit -= 1.0
            self._staleness = 0.0
        self._threshold *= float(np.exp(-self.gain * (self._credit - 0.5 * self.burst)))
        self._threshold = min(max(self._threshold, 1e-3), 1e3)
        return key
