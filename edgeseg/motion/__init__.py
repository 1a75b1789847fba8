"""Motion from compressed video: raw motion vectors → dense block-motion fields.

Usage: ``for frame, field in MotionFieldBuilder(stride=16).fields(open_source(spec)): ...`` (docs/MOTION.md)
"""

from edgeseg.motion.dense import MotionFieldBuilder, dense_field
from edgeseg.motion.field import MotionField

__all__ = ["MotionField", "MotionFieldBuilder", "dense_field"]
