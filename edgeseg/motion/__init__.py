"""Motion from compressed video: raw motion vectors → dense block-motion fields."""

from edgeseg.motion.field import MotionField

__all__ = ["MotionField"]
