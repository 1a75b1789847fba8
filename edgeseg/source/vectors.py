"""Raw motion vectors exactly as FFmpeg exports them (flags2=+export_mvs), as N×10 int32 arrays.

Usage: ``mvs = vectors_from_av(av_frame)`` → columns ``MV_COLUMNS`` (source, w, h, src_x, src_y, dst_x, dst_y,
motion_x, motion_y, motion_scale), unfiltered, in FFmpeg's order; (0, 10) when the frame has none.

Semantics (FFmpeg's AVMotionVector, see docs/MOTION.md):
- source: -1 = past reference list (L0), +1 = future list (L1); a direction, not a frame distance.
- w, h: block size (8 or 16 each); dst_x, dst_y: the block centre in this frame.
- src = dst + motion / motion_scale (motion_scale 4 = quarter-pel for H.264, 2 = half-pel for MPEG-4 Part 2).
- bi-predicted blocks give two records (one per list); intra blocks give none.
"""

from __future__ import annotations

import numpy as np

from edgeseg.source.frame import MV_COLUMNS

NO_VECTORS = np.zeros((0, len(MV_COLUMNS)), np.int32)


def vectors_from_side_data(records: np.ndarray) -> np.ndarray:
    """FFmpeg's AVMotionVector structured array → N×10 int32 (drops `flags`, keeps order)."""
    out = np.empty((len(records), len(MV_COLUMNS)), np.int32)
    for j, name in enumerate(MV_COLUMNS):
        out[:, j] = records[name]
    return out


def vectors_from_av(av_frame) -> np.ndarray:
    """The frame's motion vectors (N×10 int32); (0, 10) for frames without side data (I-frames)."""
    # Not `av_frame.side_data`: PyAV caches that container on the frame and the container points back at the
    # frame, a reference cycle that keeps each decoded picture (and its buffer) alive until a full cyclic GC
    # pass — native memory that grew by hundreds of MB in long runs. A container of our own makes no cycle.
    from av.sidedata.sidedata import SideDataContainer

    side = SideDataContainer(av_frame).get("MOTION_VECTORS")
    if side is None:
        return NO_VECTORS.copy()
    return vectors_from_side_data(side.to_ndarray())
