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

from edgeseg.sink.stats import sampled_hw
from edgeseg.system.jit import compiled


def resize_taps(n_in: int, n_out: int, *, align_corners: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weight of i1 for bilinear resize along one axis (PyTorch's align_corners)."""
    if align_corners:  # the corner pixels' centres coincide: src = i · (n_in − 1) / (n_out − 1)
        src = np.arange(n_out, dtype=np.float64) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
        src = np.clip(src, 0.0, None)  # PyTorch/ONNX clamp negative source coordinates to 0
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    w1[i0 == i1] = 0.0
    return i0, i1, w1


class ScoreResizer:
    """Bilinear resize (align_corners=False) of (K, h, w) scores to (K, H, W), separable, for small maps.

    Usage: ``to_grid = ScoreResizer((23, 30), (45, 60)); finer = to_grid(scores_khw)``
    """

    def __init__(self, src_hw: tuple[int, int], dst_hw: tuple[int, int]):
        self._y = resize_taps(src_hw[0], dst_hw[0])
        self._x = resize_taps(src_hw[1], dst_hw[1])

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        (y0, y1, wy), (x0, x1, wx) = self._y, self._x
        rows = scores[:, y0] * (1 - wy)[:, None] + scores[:, y1] * wy[:, None]
        return (rows[:, :, x0] * (1 - wx) + rows[:, :, x1] * wx).astype(np.float32)


def argmax_axis1(vals: np.ndarray) -> np.ndarray:
    """argmax over axis 1 of (Q, K, P), first index on ties, as whole-array passes (K ≤ 255).

    NumPy's argmax over a short middle axis walks element by element; here: the max over classes, then the
    lowest class index that reaches it, found as a max over (value == max) · (K − class).
    """
    k = vals.shape[1]
    best = vals.max(axis=1, keepdims=True)
    rank = np.arange(k, 0, -1, dtype=np.uint8)[None, :, None]  # K − class: the first maximal class ranks highest
    return (k - ((vals == best).view(np.uint8) * rank).max(axis=1)).astype(np.uint8)


def _upsample_argmax(scores, low, by0, by1, bny, ystart, wy, bx0, bx1, bnx, xstart, wx, out):
    """The kernel of LabelUpsampler (numba-compiled): low is every cell's argmax (first index on ties); one band
    pair = quad at a time, a crossed quad computed a pixel row at a time over the candidate classes (a loop over
    the row that LLVM vectorises), rows and uniform quads written as slices (3x faster than element loops)."""
    k = scores.shape[0]
    mx = wx.shape[1]
    s = np.empty((4, k), np.float32)  # the quad's corner scores: (y0, x0), (y0, x1), (y1, x0), (y1, x1)
    cand = np.empty(k, np.int64)
    top, bot = np.empty((k, mx), np.float32), np.empty((k, mx), np.float32)
    best_row, lab_row = np.empty(mx, np.float32), np.empty(mx, np.uint8)
    for bi in range(by0.shape[0]):
        ya, yb, ny, r0 = by0[bi], by1[bi], bny[bi], ystart[bi]
        for bj in range(bx0.shape[0]):
            xa, xb, nx, c0 = bx0[bj], bx1[bj], bnx[bj], xstart[bj]
            l0 = low[ya, xa]
            if l0 == low[ya, xb] and l0 == low[yb, xa] and l0 == low[yb, xb]:
                out[r0:r0 + ny, c0:c0 + nx] = np.uint8(l0)
                continue
            for c in range(k):
                s[0, c], s[1, c], s[2, c], s[3, c] = scores[c, ya, xa], scores[c, ya, xb], scores[c, yb, xa], \
                    scores[c, yb, xb]
            nc = 0  # classes that no other class beats at all four corners, ascending
            for c in range(k):
                beaten = False
                for m in range(k):
                    if s[0, m] > s[0, c] and s[1, m] > s[1, c] and s[2, m] > s[2, c] and s[3, m] > s[3, c]:
                        beaten = True
                        break
                if not beaten:
                    cand[nc] = c
                    nc += 1
            for j in range(nc):  # along x once per column, for the top and bottom cell rows
                c = cand[j]
                for u in range(nx):
                    w1x = wx[bj, u]
                    w0x = np.float32(1.0) - w1x
                    top[j, u] = w0x * s[0, c] + w1x * s[1, c]
                    bot[j, u] = w0x * s[2, c] + w1x * s[3, c]
            for t in range(ny):
                w1y = wy[bi, t]
                w0y = np.float32(1.0) - w1y
                for u in range(nx):
                    best_row[u], lab_row[u] = w0y * top[0, u] + w1y * bot[0, u], np.uint8(cand[0])
                for j in range(1, nc):  # a later class wins only if strictly higher: first index on ties
                    cj = np.uint8(cand[j])
                    for u in range(nx):
                        v = w0y * top[j, u] + w1y * bot[j, u]
                        if v > best_row[u]:
                            best_row[u], lab_row[u] = v, cj
                out[r0 + t, c0:c0 + nx] = lab_row[:nx]


class LabelUpsampler:
    """argmax over classes of bilinearly upsampled scores, computed sparsely.

    Contract: ``LabelUpsampler(src, dst, align_corners=a)(scores)`` equals
    ``argmax(interpolate(scores, dst, mode="bilinear", align_corners=a), axis=0)`` up to exact ties.
    Output pixels are grouped in *bands* per axis: consecutive pixels interpolating between the same two
    source cells (pixels clamped at the border use one cell, so they form bands of their own). A band pair
    is a quad; only quads whose corner cells disagree on the argmax are computed, pixel by pixel.
    """

    def __init__(self, src_hw: tuple[int, int], dst_hw: tuple[int, int], *, align_corners: bool = False):
        self.src_hw, self.dst_hw, self.align_corners = tuple(src_hw), tuple(dst_hw), align_corners
        (self._y0, self._y1, self._ny, self._rows, self._row_ok, self._wy) = self._bands(src_hw[0], dst_hw[0],
                                                                                          align_corners)
        (self._x0, self._x1, self._nx, self._cols, self._col_ok, self._wx) = self._bands(src_hw[1], dst_hw[1],
                                                                                          align_corners)
        # Flat output index of every (quad, pixel-in-quad); padding points at a spare slot past the image.
        pix = self._rows[:, None, :, None] * dst_hw[1] + self._cols[None, :, None, :]
        ok = self._row_ok[:, None, :, None] & self._col_ok[None, :, None, :]
        self._pix = np.where(ok, pix, dst_hw[0] * dst_hw[1]).reshape(len(self._y0), len(self._x0), -1)
        self._wxm = np.stack([1 - self._wx, self._wx], axis=1)  # (bands, 2, mx): weights of cells x0, x1
        self._wym = np.stack([1 - self._wy, self._wy], axis=2)  # (bands, my, 2): weights of rows y0, y1
        self._ystart, self._xstart = self._rows[:, 0].copy(), self._cols[:, 0].copy()  # first pixel of each band

    @staticmethod
    def _bands(n_in: int, n_out: int, align_corners: bool):
        """Per band: first and second source cell, pixel count, output indices (padded), mask, weights."""
        i0, i1, w1 = resize_taps(n_in, n_out, align_corners=align_corners)
        i1 = np.where(w1 == 0, i0, i1)  # border pixels (and exact hits) read one cell
        change = np.flatnonzero((i0[1:] != i0[:-1]) | (i1[1:] != i1[:-1])) + 1
        start = np.concatenate([[0], change])
        count = np.diff(np.concatenate([start, [n_out]]))
        longest = int(count.max())
        idx = start[:, None] + np.arange(longest)[None, :]
        ok = np.arange(longest)[None, :] < count[:, None]
        idx = np.minimum(idx, n_out - 1)
        return i0[start], i1[start], count, idx, ok, np.where(ok, w1[idx], 0.0).astype(np.float32)

    def sampled(self, step: int) -> LabelUpsampler:
        """The same upsampler with every `step`-th output row and column only (the pixels at step·i + step//2):
        labels for outputs that do not need every pixel, such as class fractions. Cached per step."""
        cache = self.__dict__.setdefault("_sampled", {})
        if step not in cache:
            cache[step] = type(self)(self.src_hw, sampled_hw(self.dst_hw, step), **self._options())
        return cache[step]

    def _options(self) -> dict:
        return {"align_corners": self.align_corners}

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """scores: (K, h, w) float → (H, W) uint8 labels."""
        k, h, w = scores.shape
        assert (h, w) == self.src_hw, f"scores are {h}×{w}, upsampler built for {self.src_hw}"
        kernel = compiled(_upsample_argmax)
        if kernel is None:
            return self.numpy(scores)
        out = np.empty(self.dst_hw, np.uint8)
        scores = np.ascontiguousarray(scores, np.float32)
        kernel(scores, scores.argmax(axis=0), self._y0, self._y1, self._ny, self._ystart, self._wy,
               self._x0, self._x1, self._nx, self._xstart, self._wx, out)
        return out

    def numpy(self, scores: np.ndarray) -> np.ndarray:
        """The same labels in NumPy (without numba): whole-array passes over the crossed quads."""
        k, h, w = scores.shape
        low = scores.argmax(axis=0).astype(np.uint8)
        buf = np.empty(self.dst_hw[0] * self.dst_hw[1] + 1, np.uint8)
        out = buf[:-1].reshape(self.dst_hw)
        top, bottom = low[self._y0], low[self._y1]
        l00, l01, l10, l11 = top[:, self._x0], top[:, self._x1], bottom[:, self._x0], bottom[:, self._x1]
        out[...] = np.repeat(np.repeat(l00, self._ny, axis=0), self._nx, axis=1)
        qi, qj = np.nonzero((l00 != l01) | (l00 != l10) | (l00 != l11))  # quads a class boundary crosses
        if qi.size == 0:
            return out
        flat = scores.reshape(k, h * w).T  # (h*w, K)
        r0, r1, c0, c1 = self._y0[qi] * w, self._y1[qi] * w, self._x0[qj], self._x1[qj]
        corners = np.stack([np.stack([flat[r0 + c0], flat[r0 + c1]], axis=-1),
                            np.stack([flat[r1 + c0], flat[r1 + c1]], axis=-1)], axis=1)  # (Q, row, K, col)
        # Separable bilinear as two small batched matmuls: along x on both rows, then along y.
        q = len(qi)
        along_x = np.matmul(corners.reshape(q, 2 * k, 2), self._wxm[qj])  # (Q, row·K, mx)
        along_x = np.ascontiguousarray(along_x.reshape(q, 2, k, -1).transpose(0, 2, 1, 3))  # (Q, K, row, mx)
        vals = np.matmul(self._wym[qi][:, None], along_x)  # (Q, K, my, mx): class planes stay contiguous
        labels = argmax_axis1(vals.reshape(q, k, -1))
        buf[self._pix[qi, qj].ravel()] = labels.ravel()
        return out
