"""Per-frame staleness from the compressed stream: how much warping error one more frame adds.

Usage: ``s = Staleness()(field)`` (≥ 0; add it up over the frames since a keyframe)

Three measures of a frame's motion field, in motion-grid cells (stride pixels):
- invalid: share of intra-coded / uncovered cells (new content no warp can produce);
- motion: mean |displacement| of the valid cells (block motion is least exact where it is large);
- deform: mean |difference| between the motion of 4-neighbouring valid cells (parallax, zoom, objects
  moving against the background: where warped features smear across boundaries).
The weights are a non-negative least-squares fit of the per-frame prop error (disagreement with frame mode)
to these measures accumulated since the keyframe (fitted by a research script at commit 976f655; see
docs/DECISIONS.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeseg.motion.field import MotionField


def motion(field: MotionField | None) -> float:
    """Mean |displacement| of the valid cells, in cells (0 without a field or valid cells)."""
    if field is None or not field.valid.any():
        return 0.0
    v = field.valid
    return float(np.hypot(field.dx[v], field.dy[v]).mean()) / field.stride


def measures(field: MotionField | None) -> tuple[float, float, float]:
    """(invalid, motion, deform) of one field; a frame without a field has none of them."""
    if field is None or field.valid.size == 0:
        return 0.0, 0.0, 0.0
    v = field.valid
    invalid = 1.0 - float(v.mean())
    if not v.any():
        return invalid, 0.0, 0.0
    dx, dy = field.dx / field.stride, field.dy / field.stride
    both_r, both_c = v[:, 1:] & v[:, :-1], v[1:, :] & v[:-1, :]
    diffs = [np.abs(np.diff(dx, axis=1))[both_r] + np.abs(np.diff(dy, axis=1))[both_r],
             np.abs(np.diff(dx, axis=0))[both_c] + np.abs(np.diff(dy, axis=0))[both_c]]
    pairs = sum(d.size for d in diffs)
    deform = float(sum(d.sum() for d in diffs)) / pairs if pairs else 0.0
    return invalid, motion(field), deform


@dataclass(frozen=True, kw_only=True)
class Staleness:
    """Weighted sum of a frame's measures: the predicted warping error it adds (arbitrary units)."""

    # Calibrated on street-1002/1003 (reference model): motion alone explains 78% of the variance of the prop
    # error, the frame count 60%; intra share and motion differences add nothing once motion is in (NNLS → 0).
    invalid: float = 0.0
    motion: float = 1.0
    deform: float = 0.0

    def __call__(self, field: MotionField | None) -> float:
        if not (self.invalid or self.deform):  # the default: skip the measures that weigh nothing
            return motion(field)
        u, m, d = measures(field)
        return self.invalid * u + self.motion * m + self.deform * d
