"""Motion fields (video pixels) → displacements on the feature grid (feature cells).

Usage: ``to_grid = FieldResampler(video_hw=(720, 1280), feature_hw=(23, 30)); disp = to_grid(field)``
"""

from __future__ import annotations

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.system.jit import compiled


def fill_invalid(dx: np.ndarray, dy: np.ndarray, valid: np.ndarray, *, rounds: int = 4):
    """Give invalid cells the mean motion of their valid 8-neighbours, growing inwards for `rounds` steps.

    Contract: valid cells are unchanged; cells still unreached after `rounds` keep zero motion.
    Intra-coded blocks mostly sit on moving objects and disocclusions, whose neighbours move the same way.
    """
    if valid.all() or not valid.any():
        return dx, dy
    dx, dy, known = dx.copy(), dy.copy(), valid.copy()
    kernel = compiled(_fill_into)
    if kernel is not None:
        kernel(dx, dy, known, rounds)
        return dx, dy
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


def _fill_into(dx, dy, known, rounds):
    """numba kernel of fill_invalid, in place: the same rounds and the same float32 sums in the same order
    (3 rows down each of 3 columns, then the columns left to right)."""
    h, w = known.shape
    grow = np.zeros((h, w), np.bool_)
    nx, ny = np.empty((h, w), np.float32), np.empty((h, w), np.float32)
    for _ in range(rounds):
        grew = False
        for i in range(h):
            for j in range(w):
                grow[i, j] = False
                if known[i, j]:
                    continue
                bc, bx, by = np.float32(0.0), np.float32(0.0), np.float32(0.0)
                for b in range(j - 1, j + 2):
                    cc, cx, cy = np.float32(0.0), np.float32(0.0), np.float32(0.0)
                    for a in range(i - 1, i + 2):
                        if 0 <= a < h and 0 <= b < w and known[a, b]:
                            cc += np.float32(1.0)
                            cx += dx[a, b]
                            cy += dy[a, b]
                    bc, bx, by = bc + cc, bx + cx, by + cy
                if bc > 0:
                    grow[i, j], nx[i, j], ny[i, j], grew = True, bx / bc, by / bc, True
        if not grew:
            break
        done = True
        for i in range(h):
            for j in range(w):
                if grow[i, j]:
                    dx[i, j], dy[i, j], known[i, j] = nx[i, j], ny[i, j], True
                done = done and known[i, j]
        if done:
            break


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
        disp, valid = np.empty((self.h, self.w, 2), np.float32), np.empty((self.h, self.w), bool)
        sx, sy = np.float32(self.w / self.W), np.float32(self.h / self.H)
        kernel = compiled(_resample_into)
        if kernel is not None:
            kernel(dx, dy, field.valid, rows, cols, sx, sy, disp, valid)
            return disp, valid
        sel = (rows[:, None], cols[None, :])
        disp[..., 0], disp[..., 1], valid[...] = dx[sel] * sx, dy[sel] * sy, field.valid[sel]
        return disp, valid


def _resample_into(dx, dy, valid, rows, cols, sx, sy, disp, valid_out):
    """numba kernel of FieldResampler: nearest field cell of every feature cell, scaled to feature cells."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for j in range(cols.shape[0]):
            c = cols[j]
            disp[i, j, 0], disp[i, j, 1], valid_out[i, j] = dx[r, c] * sx, dy[r, c] * sy, valid[r, c]
