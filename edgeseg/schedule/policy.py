"""Keyframe policies: decide, frame by frame, where the feature network runs.

Usage: ``policy = FixedInterval(interval=10); policy.decide(frame, field, since_key)`` (prop) or
``policy.place(frame, field, held)`` (interp)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame


class KeyframePolicy(Protocol):
    """Where keyframes fall, asked once per frame in display order: prop asks `decide` (no frame is held),
    interp asks `place` (the frames of a gap are held anyway, so a policy may look ahead among them).

    cut_below: the share of motion-covered cells under which a P/B frame is a scene cut that the policy
    makes a keyframe (0 where cuts are not keyframes); interp does not chain frames across such a cut.
    """

    cut_below: float

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        """True if `frame` is a keyframe. since_key: frames since the last keyframe (1 = the one right after)."""

    def place(self, frame: Frame, field: MotionField | None, held: int) -> tuple[int, ...]:
        """Take the newest frame. held: frames since the last keyframe, this one included. Returns the
        positions (ascending, 1 = the frame right after the last keyframe, `held` = this one) of the
        keyframes placed now; () holds the frames for later."""


class DecideEach:
    """Mixin for policies that decide frame by frame: `place` makes the newest frame a keyframe when `decide`
    says so (no look-ahead)."""

    def place(self, frame: Frame, field: MotionField | None, held: int) -> tuple[int, ...]:
        return (held,) if self.decide(frame, field, held) else ()


@dataclass(frozen=True, kw_only=True)
class FixedInterval(DecideEach):
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

    @property
    def cut_below(self) -> float:
        return self.cut_valid_fraction if self.at_iframes else 0.0

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        if since_key >= self.interval:
            return True
        if not self.at_iframes:
            return False
        cut = field is not None and frame.pict_type != "I" and field.valid_fraction < self.cut_valid_fraction
        return frame.pict_type == "I" or cut


class ForcedKeyframes:
    """Another policy, whose next decision can be forced to a keyframe (set `force`, e.g. after dropped frames).

    Usage: ``policy = ForcedKeyframes(make_policy("fixed", interval=10)); policy.force = True``
    The wrapped policy still sees every frame, so its own state stays in step.
    """

    def __init__(self, policy: KeyframePolicy):
        self.policy, self.force = policy, False

    @property
    def cut_below(self) -> float:
        return self.policy.cut_below

    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        key = self.policy.decide(frame, field, since_key)
        forced, self.force = self.force, False
        return key or forced

    def place(self, frame: Frame, field: MotionField | None, held: int) -> tuple[int, ...]:
        keys = self.policy.place(frame, field, held)
        if self.force:  # the current (last held) frame becomes a keyframe; earlier placements still stand
            self.force = False
            keys = (*[k for k in keys if k < held], held)
        return keys
