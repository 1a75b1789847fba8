"""Class scores at feature resolution → labels at any output size, exactly as bilinear upsampling + argmax.

Usage: ``to_labels = LabelUpsampler((h, w), (H, W)); labels = to_labels(scores_khw)``

Full-resolution bilinear upsampling of every class score costs as much as the rest of the task network on a
CPU. It is also unnecessary almost everywhere: where the four low-resolution cells that a pixel interpolates
between share one argmax class c, every class's interpolated score is a convex combination of scores that c
dominates, so the pixel's argmax is c. Only pixels in "mixed" quads (a class boundary passes between the four
cells) need the bilinear scores; they are computed exactly, for those pixels only.
"""

from __future__ import annotations

import numpy as np


def resize_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weight of i1 for bilinear resize along one axis (align_corners=False)."""
    scale = n_in / n_out
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5
    src = np.clip(src, 0.0, None)  # PyTorch/ONNX clamp negative source coordinates to 0
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    w1[i0 == i1] = 0.0
    return i0, i1, w1


def _argmax_axis1(vals: np.ndarray) -> np.ndarray:
    """argmax over axis 1 of (Q, K, P) as K vectorised compares (numpy's argmax on a short axis is slow)."""
    best = vals[:, 0].copy()
    arg = np.zeros(best.shape, np.uint8)
    for c in range(1, vals.shape[1]):
        better = vals[:, c] > best
        np.copyto(best, vals[:, c], where=better)
        arg[better] = c
    return arg


class LabelUpsampler:
    """argmax over classes of bilinearly upsampled scores (align_corners=False), computed sparsely.

    Contract: ``LabelUpsampler(src, dst)(scores)`` equals
    ``argmax(interpolate(scores, dst, mode="bilinear", align_corners=False), axis=0)`` up to exact ties.
    """

    def __init__(self, src_hw: tuple[int, int], dst_hw: tuple[int, int]):
        (h, w), (H, W) = src_hw, dst_hw
        self.src_hw, self.dst_hw = (h, w), (H, W)
        y0, y1, wy = resize_taps(h, H)
        x0, x1, wx = resize_taps(w, W)
        # Output pixels are grouped by quad: rows with y0 == i form one contiguous run (y0 is monotonic).
        self._rep_y, self._rep_x = np.bincount(y0, minlength=h), np.bincount(x0, minlength=w)
        self._rows, self._row_ok, self._wy = self._runs(y0, wy, self._rep_y)
        self._cols, self._col_ok, self._wx = self._runs(x0, wx, self._rep_x)
        self._y1 = np.minimum(np.arange(h) + 1, h - 1)
        self._x1 = np.minimum(np.arange(w) + 1, w - 1)
        # Flat output index of every (quad, pixel-in-quad); padding points at a spare slot past the image.
        pix = self._rows[:, None, :, None] * W + self._cols[None, :, None, :]
        ok = self._row_ok[:, None, :, None] & self._col_ok[None, :, None, :]
        self._pix = np.where(ok, pix, H * W).reshape(h, w, -1)

    @staticmethod
    def _runs(i0: np.ndarray, w1: np.ndarray, counts: np.ndarray):
        """Per source index q: the output indices whose i0 == q (padded to the longest run), mask, weights."""
        n, longest = len(counts), max(int(counts.max()), 1)
        start = np.searchsorted(i0, np.arange(n))
        idx = start[:, None] + np.arange(longest)[None, :]
        ok = np.arange(longest)[None, :] < counts[:, None]
        idx = np.minimum(idx, len(i0) - 1)
        return idx, ok, np.where(ok, w1[idx], 0.0).astype(np.float32)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """scores: (K, h, w) float → (H, W) uint8 labels."""
        k, h, w = scores.shape
        assert (h, w) == self.src_hw, f"scores are {h}×{w}, upsampler built for {self.src_hw}"
        low = scores.argmax(axis=0).astype(np.uint8)
        buf = np.empty(self.dst_hw[0] * self.dst_hw[1] + 1, np.uint8)
        out = buf[:-1].reshape(self.dst_hw)
        out[...] = np.repeat(np.repeat(low, self._rep_y, axis=0), self._rep_x, axis=1)
        # A quad (i, j) is uniform when cells (i, j), (i, j+1), (i+1, j), (i+1, j+1) agree (edges clamp).
        right, down = low[:, self._x1], low[self._y1]
        mixed = (low != right) | (low != down) | (low != right[self._y1])
        qi, qj = np.nonzero(mixed)
        if qi.size == 0:
            return out
        flat = scores.reshape(k, h * w).T  # (h*w, K)
        y1, x1 = self._y1[qi], self._x1[qj]
        corners = np.stack([flat[qi * w + qj], flat[qi * w + x1], flat[y1 * w + qj], flat[y1 * w + x1]], axis=2)
        wy, wx = self._wy[qi][:, :, None], self._wx[qj][:, None, :]  # (Q, my, 1), (Q, 1, mx)
        q, my, mx = len(qi), wy.shape[1], wx.shape[2]
        weights = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx], axis=1)
        vals = np.matmul(corners, weights.reshape(q, 4, my * mx))  # (Q, K, P): class planes are contiguous
        labels = _argmax_axis1(vals)
        buf[self._pix[qi, qj].ravel()] = labels.ravel()
        return out
