"""Tiny RGB versions of frames: one colour per cell of an (h, w) grid.

Usage: ``small = yuv420_thumbnail(y, u, v, (45, 60))`` or ``small = rgb_thumbnail(image, (45, 60))``

interp's photometric fusion compares every frame with its keyframes at the warp grid's size. From the decoder's
YUV 4:2:0 planes: the mean luma of each cell and the chroma sample at its centre (chroma is smooth; its means
cost as much as the luma's and changed no label), ~0.06 ms for 360×480 here, compiled; from 720p on, a cell's
luma mean reads every 2nd or 3rd row and column (sample_step). An RGB conversion plus a
scale through swscale costs ~0.1 ms alone, ~0.3 ms while decoder threads run.
Cells: rows [i·H/h, (i+1)·H/h) and columns alike (floors); chroma at the middle of the same cell in its plane.
Colours: BT.601, limited range (yuv420p) or full range (yuvj420p), as swscale converts them.
"""

from __future__ import annotations

import functools

import numpy as np

from edgeseg.system.jit import compiled

# (gain, offset, chroma gain): R, G, B = gain · (Y − offset) + CHROMA @ (chroma gain · (U − 128, V − 128))
LIMITED_RANGE = (np.float32(255 / 219), np.float32(16.0), np.float32(255 / 224))
FULL_RANGE = (np.float32(1.0), np.float32(0.0), np.float32(1.0))
CHROMA = np.array([[0.0, 1.402], [-0.344136, -0.714136], [1.772, 0.0]], np.float32)  # BT.601


def _bounds(n: int, cells: int) -> np.ndarray:
    return (np.arange(cells + 1) * n // cells).astype(np.intp)


@functools.lru_cache(maxsize=16)
def _cells(luma_hw: tuple[int, int], chroma_hw: tuple[int, int], hw: tuple[int, int]):
    """(rows, cols, crow, ccol) of yuv420_thumbnail for one frame size: cell bounds in the luma plane, the
    chroma sample rows/columns (cell centres). Cached, read-only: the same for every frame of a stream."""
    rows, cols = _bounds(luma_hw[0], hw[0]), _bounds(luma_hw[1], hw[1])
    crows, ccols = _bounds(chroma_hw[0], hw[0]), _bounds(chroma_hw[1], hw[1])
    out = rows, cols, (crows[:-1] + crows[1:]) // 2, (ccols[:-1] + ccols[1:]) // 2
    for a in out:
        a.flags.writeable = False
    return out


def rgb_thumbnail(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, C) RGB (any dtype) → (h, w, C) float32 cell means (h ≤ H, w ≤ W)."""
    rows, cols = _bounds(image.shape[0], hw[0]), _bounds(image.shape[1], hw[1])
    sums = np.add.reduceat(np.add.reduceat(image.astype(np.float32), rows[:-1], axis=0), cols[:-1], axis=1)
    return (sums / (np.diff(rows)[:, None, None] * np.diff(cols)[None, :, None])).astype(np.float32)


def _thumbnail_into(y, u, v, rows, cols, crow, ccol, step, gain, y0, cgain, out):
    """The numba kernel of yuv420_thumbnail: luma cell means (every step-th row and column of the cell),
    chroma at (crow[i], ccol[j]), then RGB.

    Row by row, each cell's run of luma bytes is summed as an integer with unsigned indices: vectorised, where a
    float accumulator per cell or signed indices keep the short loops scalar (3-5× slower). The row sums add up
    in float32 exactly (integers below 2^24)."""
    h, w = out.shape[0], out.shape[1]
    luma = np.empty(w, np.float32)
    us = np.uintp(step)
    for i in range(h):
        luma[:] = 0.0
        for r in range(rows[i], rows[i + 1], step):
            ru = np.uintp(r)
            for j in range(w):
                s = np.uint32(0)
                for c in range(np.uintp(cols[j]), np.uintp(cols[j + 1]), us):
                    s += np.uint32(y[ru, c])
                luma[j] += np.float32(s)
        n_rows = np.float32((rows[i + 1] - rows[i] + step - 1) // step)
        for j in range(w):
            n = n_rows * np.float32((cols[j + 1] - cols[j] + step - 1) // step)
            lum = (luma[j] / n - y0) * gain
            cb = (np.float32(u[crow[i], ccol[j]]) - np.float32(128.0)) * cgain
            cr = (np.float32(v[crow[i], ccol[j]]) - np.float32(128.0)) * cgain
            for k in range(3):
                out[i, j, k] = min(max(lum + cb * CHROMA[k, 0] + cr * CHROMA[k, 1], np.float32(0.0)),
                                   np.float32(255.0))


def sample_step(luma_hw: tuple[int, int], hw: tuple[int, int]) -> int:
    """Every how many rows and columns a cell's luma mean reads: 1 (every pixel) for cells under 16 pixels
    high or wide (360×480 and 540p video on a 45×60 grid), 2 at 720p, 3 at 1080p: about 8 × 10 samples a cell,
    where reading every byte of a 1080p frame cost 0.55 ms a frame (docs/RESULTS.md)."""
    return max(1, min(luma_hw[0] // hw[0], luma_hw[1] // hw[1]) // 8)


def yuv420_thumbnail(y: np.ndarray, u: np.ndarray, v: np.ndarray, hw: tuple[int, int], *,
                     full_range: bool = False) -> np.ndarray:
    """Planes of a YUV 4:2:0 frame (Y (H, W), U and V (⌈H/2⌉, ⌈W/2⌉), uint8, row padding allowed) → (h, w, 3)
    float32 RGB, one colour per cell (see the module docstring). Needs h ≤ ⌈H/2⌉ and w ≤ ⌈W/2⌉."""
    h, w = hw
    rows, cols, crow, ccol = _cells(y.shape, u.shape, (h, w))
    gain, y0, cgain = FULL_RANGE if full_range else LIMITED_RANGE
    kernel = compiled(_thumbnail_into)
    if kernel is not None:
        out = np.empty((h, w, 3), np.float32)
        kernel(y, u, v, rows, cols, crow, ccol, sample_step(y.shape, hw), gain, y0, cgain, out)
        return out
    lum = (_sampled_means(y, rows, cols, sample_step(y.shape, hw)) - y0) * gain
    cb = (u[crow[:, None], ccol[None, :]].astype(np.float32) - np.float32(128.0)) * cgain
    cr = (v[crow[:, None], ccol[None, :]].astype(np.float32) - np.float32(128.0)) * cgain
    return to_rgb(lum, cb, cr)


def _sampled_means(y: np.ndarray, rows: np.ndarray, cols: np.ndarray, step: int) -> np.ndarray:
    """Each cell's mean over every step-th row and column from its first (the kernel's NumPy twin)."""
    if step == 1:
        return rgb_thumbnail(y[..., None], (len(rows) - 1, len(cols) - 1))[..., 0]
    out = np.empty((len(rows) - 1, len(cols) - 1), np.float32)
    for i in range(len(rows) - 1):
        band = y[rows[i]:rows[i + 1]:step].astype(np.float32)
        for j in range(len(cols) - 1):
            out[i, j] = band[:, cols[j]:cols[j + 1]:step].mean()
    return out


def to_rgb(lum: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """Float32 RGB (..., 3) in 0…255 from luma already scaled ((Y − offset) · gain) and centred, scaled chroma
    ((U − 128) · chroma gain, (V − 128) · chroma gain), BT.601."""
    rgb = lum[..., None] + cb[..., None] * CHROMA[:, 0] + cr[..., None] * CHROMA[:, 1]
    return np.clip(rgb, 0.0, 255.0).astype(np.float32)
