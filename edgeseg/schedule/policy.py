"""Keyframe policies: decide, frame by frame, where the feature network runs.

Usage: ``policy = FixedInterval(interval=10); policy.decide(frame, field, since_key)``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame


class KeyframePolicy(Protocol):
    """One decision per frame, in display order."""

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        """True if `frame` is a keyframe. since_key: frames since the last keyframe (1 = the one right after)."""


class LookaheadPolicy(KeyframePolicy, Protocol):
    """A policy that may also place keyframes among frames held back (interp mode holds a gap anyway).

    The interp segmenter calls `place` instead of `decide` when the policy has it, for every frame after
    the first, and makes keyframes of exactly the frames it names.
    """

    def place(self, frame: Frame, field: MotionField | None, held: int) -> tuple[int, ...]:
        """Take the newest frame. held: frames since the last keyframe, this one included. Returns the
        positions (ascending, 1 = the frame right after the last keyframe, `held` = this one) of the
        keyframes placed now; () holds the frames for later."""


@dataclass(frozen=True, kw_only=True)
class FixedInterval:
    """A keyframe every `interval` frames, plus (by default) at I-frames and scene cuts.

    A scene cut is a predicted frame whose motion field is mostly invalid (intra-coded): its content is new,
    so warping older features into it would be wrong. (The pipeline makes the first frame a keyframe itself.)
    """

    interval: int
    at_iframes: bool = True
    cut_valid_fraction: float = 0.25  # below this share of motion-covered cells a P/B frame counts as a cut

    def __post_init__(self):
        if self.interval < 1:
            raise ValueError(f"keyframe interval must be ≥ 1, got {self.interval}")

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        if since_key >= self.interval:
            return True
        if not self.at_iframes:
            return False
        cut = field is not None and frame.pict_type != "I" and field.valid_fraction < self.cut_valid_fraction
        return frame.pict_type == "I" or cut
