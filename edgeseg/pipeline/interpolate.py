"""interp's strategies: a gap's held frames blended from the keyframes before (a) and after (b) it.

Usage::

    gap = Gap.between(track_a, held_disps, disp_b)     # positions of the held frames' cells in a and b
    fusion = FUSIONS.get("linear")()
    fusion.start(gap, track_a)                          # before b's feature network: a's half
    fusion.finish(gap, track_b)                         # after it: b's half; gap.fused = (n, h, w, C)

Frame i of the n held frames gets (n − i)/(n + 1) of keyframe a warped forward along the motion and
(i + 1)/(n + 1) of keyframe b warped backward (linear, the paper's interp-mv). A frame without motion to its
predecessor (I-frame, scene cut) breaks the backward chain: the frames before it use keyframe a alone.
Photometric fusion also weighs the two keyframes per cell by how well their warped thumbnails match the frame's
own (edgeseg.warp.fuse). Every frame of the gap is fused in one batched call per keyframe (per-frame calls
cost more), a's half while the gap's data is still in cache.
A new fusion is a class with ``thumbnails``, ``start``, ``finish`` and ``carried`` registered in FUSIONS here:
``--fusion``, the service key and the bench's ``--fusion`` offer it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edgeseg.pipeline.propagate import Track
from edgeseg.registry import Registry
from edgeseg.warp.bilinear import array_module, gap_positions, warp_blend
from edgeseg.warp.fuse import match_error, mix, photometric_weights


@functools.lru_cache(maxsize=256)
def gap_weights(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """interp's blend weights for the n held frames of a gap, the last m of which keyframe b reaches:
    frame i gets (n - i)/(n + 1) of keyframe a and (i + 1)/(n + 1) of b (all of a where b does not reach).
    Cached, read-only: building them costs more than the frames' share of the blend at these sizes."""
    wb = np.zeros(n, np.float32)
    wb[n - m:] = (np.arange(n - m, n) + 1) / (n + 1)
    wa = 1.0 - wb
    wa.flags.writeable = wb.flags.writeable = False
    return wa, wb


@dataclass(slots=True)
class Gap:
    """The n held frames between two keyframes. forward / back: their cells' positions in keyframe a (n, h, w, 2)
    and in keyframe b (the last m frames), or None when b reaches none; fused: the blend so far."""

    forward: np.ndarray
    back: np.ndarray | None
    m: int
    frames: list = field(default_factory=list)  # the held Frames (photometric fusion reads their pixels)
    fused: np.ndarray | None = None
    state: tuple = ()  # a fusion's own data between its two halves
    thumbs: np.ndarray | None = None  # the held frames' thumbnails (n, h, w, 3), made on first use

    @property
    def n(self) -> int:
        return len(self.forward)

    def thumbnails(self, like):
        """The held frames' thumbnails on the warp grid (n, h, w, 3), in the array module of `like`."""
        if self.thumbs is None:
            hw = self.forward.shape[1:3]
            self.thumbs = array_module(like).asarray(np.stack([frame.thumbnail(*hw) for frame in self.frames]))
        return self.thumbs

    @classmethod
    def between(cls, track_a: Track, disps: list, disp_b, frames: list) -> Gap:
        """Chain the held frames' displacements (None: no motion to the previous frame) forward from a and
        backward from b (disp_b: b's motion to the last held frame)."""
        forward, back, m = gap_positions(track_a.grid, disps, disp_b)
        return cls(forward, back if m else None, m, frames)


class Fusion(Protocol):
    """How a gap's frames weigh keyframes a and b, in two halves around keyframe b's feature network.
    thumbnails: whether it reads the keyframes' thumbnails (each Track's thumb) to weigh them."""

    thumbnails: bool

    def start(self, gap: Gap, track_a: Track) -> None:
        """Keyframe a's half: gap.fused = a's weight · a warped forward."""

    def finish(self, gap: Gap, track_b: Track) -> None:
        """Keyframe b's half, into gap.fused."""

    def carried(self, gap: Gap, track_a: Track, track_b: Track):
        """(n, h, w, 3): the keyframes' thumbnails moved and blended exactly as each frame's data was: the colour
        each cell's data came with (label guidance and the correction's trigger)."""


def _carried(gap: Gap, track_a: Track, track_b: Track, wb_cells=None):
    """Keyframe a's thumbnail carried forward, blended towards b's by b's weights (per frame, or per cell)."""
    n, m = gap.n, gap.m
    if wb_cells is None:
        wa, wb = gap_weights(n, m)
        out = warp_blend([(track_a.thumb, gap.forward, wa)])
        return warp_blend([(track_b.thumb, gap.back, wb)], add_to=out) if m else out
    out = warp_blend([(track_a.thumb, gap.forward, gap_weights(n, 0)[0])])
    mix(out[n - m:], warp_blend([(track_b.thumb, gap.back[n - m:], gap_weights(m, 0)[0])]), wb_cells)
    return out


class LinearFusion:
    """Weights by the frame's place in the gap, the same in every cell (the paper's interp-mv)."""

    thumbnails = False

    def start(self, gap: Gap, track_a: Track) -> None:
        gap.fused = warp_blend([(track_a.key, gap.forward, gap_weights(gap.n, gap.m)[0])])

    def finish(self, gap: Gap, track_b: Track) -> None:
        if gap.back is not None:
            gap.fused = warp_blend([(track_b.key, gap.back, gap_weights(gap.n, gap.m)[1])], add_to=gap.fused)

    def carried(self, gap: Gap, track_a: Track, track_b: Track):
        return _carried(gap, track_a, track_b)


class PhotometricFusion:
    """Linear odds, moved per cell towards the keyframe whose warped thumbnail matches the frame's better."""

    thumbnails = True

    def start(self, gap: Gap, track_a: Track) -> None:
        n, m = gap.n, gap.m
        if m:  # a alone (weight 1) until the per-cell weights are known
            thumbs = gap.thumbnails(track_a.key)[n - m:]
            gap.state = thumbs, match_error(track_a.thumb, gap.forward[n - m:], thumbs)
            gap.fused = warp_blend([(track_a.key, gap.forward, gap_weights(n, 0)[0])])
        else:
            LinearFusion.start(self, gap, track_a)

    def finish(self, gap: Gap, track_b: Track) -> None:
        if gap.back is None:
            return
        n, m = gap.n, gap.m
        thumbs, err_a = gap.state
        reach = gap.back[n - m:]
        wb_cells = photometric_weights(gap_weights(n, m)[1][n - m:], err_a,
                                       match_error(track_b.thumb, reach, thumbs))
        mix(gap.fused[n - m:], warp_blend([(track_b.key, reach, gap_weights(m, 0)[0])]), wb_cells)  # in place
        gap.state = (wb_cells,)

    def carried(self, gap: Gap, track_a: Track, track_b: Track):
        return _carried(gap, track_a, track_b, gap.state[0] if gap.m else None)


FUSIONS: Registry[type] = Registry("fusion")
FUSIONS.register("linear", LinearFusion)
FUSIONS.register("photometric", PhotometricFusion)
