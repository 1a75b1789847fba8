"""The unit every pipeline stage passes on: one decoded frame in display order.

Usage: ``for frame in source: frame.image, frame.mvs``
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Columns of a raw motion-vector array, in FFmpeg's AVMotionVector order minus `flags`
# (the layout of the mv-extractor tool's mvs-<i>.npy files).
MV_COLUMNS = ("source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")


@dataclass(slots=True)
class Frame:
    """One decoded frame.

    index: 0-based position in display order.
    pts: presentation time in seconds (None when the container has none).
    pict_type: "I", "P", "B", or "?" when the decoder does not say.
    image: H×W×3 uint8 RGB.
    mvs: N×10 int32 raw motion vectors (columns MV_COLUMNS), (0, 10) for a frame without vectors,
         None when the codec exports no vectors at all (then motion is estimated, see edgeseg.motion).
    """

    index: int
    pts: float | None
    pict_type: str
    image: np.ndarray
    mvs: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
