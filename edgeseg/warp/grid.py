"""Motion fields (video pixels) → displacements on the feature grid (feature cells).

Usage: ``to_grid = FieldResampler(video_hw=(720, 1280), feature_hw=(23, 30)); disp = to_grid(field)``
"""

from __future__ import annotations

import numpy as np

from edgeseg.motion.field import MotionField


def fill_invalid(dx: np.ndarray, dy: np.ndarray, valid: np.ndarray, *, rounds: int = 4):
    """Give invalid cells the mean motion of their valid 8-neighbours, growing inwards for `rounds` steps.

    Contract: valid cells are unchanged; cells still unreached after `rounds` keep zero motion.
    Intra-coded blocks mostly sit on moving objects and disocclusions, whose neighbours move the same way.
    """
    if valid.all() or not valid.any():
        return dx, dy
    dx, dy, known = dx.copy(), dy.copy(), valid.copy()
    h, w = known.shape
    pad = np.zeros((3, h + 2, w + 2), np.float32)  # known, known·dx, known·dy inside a zero border
    for _ in range(rounds):
        pad[0, 1:-1, 1:-1] = known
        pad[1, 1:-1, 1:-1] = np.where(known, dx, 0.0)  # whatever an invalid cell holds counts as nothing
        pad[2, 1:-1, 1:-1] = np.where(known, dy, 0.0)
        rows = pad[:, :-2] + pad[:, 1:-1] + pad[:, 2:]
        box = rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]  # 3×3 sums; a growing cell's own term is 0
        grow = ~known & (box[0] > 0)
        if not grow.any():
            break
        cnt = box[0][grow]
        dx[grow], dy[grow] = box[1][grow] / cnt, box[2][grow] / cnt
        known |= grow
        if known.all():
            break
    return dx, dy


class FieldResampler:
    """Resample a MotionField onto the feature grid, in feature-cell units, with invalid cells filled.

    Contract: ``disp[i, j] = (dx, dy)`` such that feature cell (i, j) of frame t came from position
    ``(j + dx, i + dy)`` of frame t-1's feature map.
    """

    def __init__(self, *, video_hw: tuple[int, int], feature_hw: tuple[int, int], fill_rounds: int = 4):
        (self.H, self.W), (self.h, self.w) = video_hw, feature_hw
        self.fill_rounds = fill_rounds
        # Video-pixel centre of each feature cell (align_corners=False geometry).
        self._cy = (np.arange(self.h) + 0.5) * (self.H / self.h) - 0.5
        self._cx = (np.arange(self.w) + 0.5) * (self.W / self.w) - 0.5
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _index(self, field: MotionField) -> tuple[np.ndarray, np.ndarray]:
        key = (field.stride, *field.shape)
        if key not in self._cache:
            rows = np.clip((np.clip(self._cy, 0, None) // field.stride).astype(np.intp), 0, field.shape[0] - 1)
            cols = np.clip((np.clip(self._cx, 0, None) // field.stride).astype(np.intp), 0, field.shape[1] - 1)
            self._cache[key] = rows, cols
        return self._cache[key]

    def __call__(self, field: MotionField) -> tuple[np.ndarray, np.ndarray]:
        """→ (disp (h, w, 2) float32 in feature cells, valid (h, w) bool before filling)."""
        rows, cols = self._index(field)
        dx, dy = fill_invalid(field.dx, field.dy, field.valid, rounds=self.fill_rounds)
        sel = (rows[:, None], cols[None, :])
        disp = np.empty((self.h, self.w, 2), np.float32)
        disp[..., 0] = dx[sel] * np.float32(self.w / self.W)
        disp[..., 1] = dy[sel] * np.float32(self.h / self.H)
        return disp, field.valid[sel]
