"""The modes, each declared once as a typed plan: where motion comes from, how keyframe data reaches the other
frames (propagated frame by frame, or held and fused from two keyframes), or the full model on every frame.

Usage: ``plan = SegmentSpec(mode="reuse").plan``; ``plan.motion, plan.hold, plan.propagation`` → vectors False reuse

A new mode is one ``MODES.register(name, ModePlan(...))`` here (plus a row in README.md's Modes table): the CLI's
``--mode``, the service's ``mode`` key, the bench's ``--modes`` and SegmentSpec take their choices from MODES.
Metadata: ``needs`` (an optional module the mode imports: the service, whose boxes lack the extras, does not
offer it), ``baseline`` (a comparison point: the bench runs it at fixed intervals only, without correction).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from edgeseg.registry import Registry

MOTION_SOURCES = ("vectors", "flow")  # the codec's block motion vectors; optical flow (OpenCV DIS)
REFERENCE = "frame"  # the full model on every frame: the accuracy and speed reference (bench, the service's audit)


@dataclass(frozen=True, kw_only=True)
class ModePlan:
    """What a mode runs. Registered plans leave propagation / fusion None where the spec's setting applies;
    ``spec.plan`` is the resolved one (``resolve``): a name from PROPAGATIONS or FUSIONS, or None where the mode
    has no such step."""

    motion: str | None = "vectors"  # non-keyframes' motion: vectors | flow | None (no motion is computed)
    hold: bool = False  # hold the frames of a gap until the next keyframe, then fuse both keyframes (interp)
    propagation: str | None = None  # not held: how the keyframe's data reaches each frame (reuse: not warped)
    fusion: str | None = None  # held: how the two keyframes are weighed
    every_frame_keyframe: bool = False  # the feature network on every frame (frame mode: nothing is carried)

    def __post_init__(self):
        if self.motion is not None and self.motion not in MOTION_SOURCES:
            raise ValueError(f"motion {self.motion!r}: choose from {', '.join(MOTION_SOURCES)} or None")
        if self.every_frame_keyframe and (self.hold or self.motion is not None):
            raise ValueError("a mode with every frame a keyframe neither holds frames nor computes motion")
        if not self.every_frame_keyframe and self.motion is None:
            raise ValueError("a mode that carries keyframe data needs a motion source")

    @property
    def carries(self) -> bool:
        """Whether non-keyframes get their data from keyframes (every mode but the full model on every frame)."""
        return not self.every_frame_keyframe

    def resolve(self, *, propagation: str, fusion: str) -> ModePlan:
        """The plan with the spec's propagation and fusion filled in where the mode uses them."""
        if self.every_frame_keyframe:
            return dataclasses.replace(self, propagation=None, fusion=None)
        if self.hold:
            return dataclasses.replace(self, propagation=None, fusion=self.fusion or fusion)
        return dataclasses.replace(self, propagation=self.propagation or propagation, fusion=None)


MODES: Registry[ModePlan] = Registry("mode", needs=None, baseline=False)
MODES.register("frame", ModePlan(motion=None, every_frame_keyframe=True))
MODES.register("prop", ModePlan())
MODES.register("interp", ModePlan(hold=True))
MODES.register("reuse", ModePlan(propagation="reuse"), baseline=True)
MODES.register("flow", ModePlan(motion="flow"), needs="cv2", baseline=True)
