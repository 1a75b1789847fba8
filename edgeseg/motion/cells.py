"""Binning raw motion vectors into grid cells: per macroblock (area-weighted), per 8×8 unit, and pooled (the
arithmetic of edgeseg.motion.dense.dense_field).

Usage: ``x, y, has = macroblock_cells(mvs, dist, mh, mw)``
"""

from __future__ import annotations

import numpy as np

from edgeseg.system.jit import compiled

_OX = np.array([0, 1, 0, 1])  # the 8×8 units a block of up to 16×16 covers, relative to its top-left unit
_OY = np.array([0, 0, 1, 1])



def macroblock_cells(mvs: np.ndarray, dist: np.ndarray, mh: int, mw: int):
    """Per macroblock (mh, mw): the area-weighted mean of the per-frame motion (motion / (±distance ·
    motion_scale)) of the vectors whose block's top-left corner lies in it (dst is the block centre), as
    float64 x and y (0 where none), and whether any does."""
    kernel = compiled(_macroblock_cells_into)
    if kernel is None:
        return _macroblock_cells_numpy(mvs, dist, mh, mw)
    cells, has = np.zeros((3, mh, mw)), np.empty((mh, mw), bool)
    kernel(mvs, dist, cells, has)
    return cells[1], cells[2], has


def _macroblock_cells_numpy(mvs: np.ndarray, dist: np.ndarray, mh: int, mw: int):
    """macroblock_cells as whole-array passes (without numba)."""
    div = np.where(mvs[:, 0] < 0, dist, -dist) * mvs[:, 9]
    bw, bh = mvs[:, 1], mvs[:, 2]
    mx, my = (mvs[:, 5] - (bw >> 1)) >> 4, (mvs[:, 6] - (bh >> 1)) >> 4
    ok = (mx >= 0) & (mx < mw) & (my >= 0) & (my < mh)
    flat, size = np.where(ok, my * mw + mx, mh * mw), mh * mw + 1
    area = (bw * bh).astype(np.float64)
    cnt, sx, sy = (np.bincount(flat, weights, size)[:-1].reshape(mh, mw)
                   for weights in (area, area * mvs[:, 7] / div, area * mvs[:, 8] / div))
    has = cnt > 0
    return (np.divide(sx, cnt, out=np.zeros((mh, mw)), where=has),
            np.divide(sy, cnt, out=np.zeros((mh, mw)), where=has), has)


def _macroblock_cells_into(mvs, dist, cells, has):
    """numba kernel of macroblock_cells: the same sums, accumulated in the same (vector) order, then divided."""
    mh, mw = has.shape
    for i in range(mvs.shape[0]):
        div = (dist[i] if mvs[i, 0] < 0 else -dist[i]) * mvs[i, 9]
        bw, bh = mvs[i, 1], mvs[i, 2]
        mx, my = (mvs[i, 5] - (bw >> 1)) >> 4, (mvs[i, 6] - (bh >> 1)) >> 4
        if mx < 0 or mx >= mw or my < 0 or my >= mh:
            continue
        area = np.float64(bw * bh)
        cells[0, my, mx] += area
        cells[1, my, mx] += area * mvs[i, 7] / div
        cells[2, my, mx] += area * mvs[i, 8] / div
    for r in range(mh):
        for c in range(mw):
            has[r, c] = cells[0, r, c] > 0
            if has[r, c]:
                cells[1, r, c] /= cells[0, r, c]
                cells[2, r, c] /= cells[0, r, c]


def pool(x: np.ndarray, y: np.ndarray, has: np.ndarray, f: int):
    """Mean of x, y over the cells of each f×f group that have a value; valid where any has."""
    if f == 1:
        return x, y, has
    h, w = has.shape
    ph, pw = -(-h // f) * f, -(-w // f) * f
    stack = np.zeros((3, ph, pw))
    stack[0, :h, :w], stack[1, :h, :w], stack[2, :h, :w] = x, y, has
    pooled = sum(stack[:, i::f, j::f] for i in range(f) for j in range(f))  # strided adds: fast for small f
    valid = pooled[2] > 0
    return (np.divide(pooled[0], pooled[2], out=np.zeros_like(pooled[0]), where=valid),
            np.divide(pooled[1], pooled[2], out=np.zeros_like(pooled[1]), where=valid), valid)


def accumulate(mvs: np.ndarray, div: np.ndarray, x0, y0, aligned, mh: int, mw: int) -> np.ndarray:
    """(3, 2 mh, 2 mw) float64: per 8×8 unit, the sums of dx = motion/div, dy, and the vector count.

    Macroblock-aligned 16×16 blocks (nearly all vectors) are binned per macroblock; the rest per unit.
    """
    vx, vy = mvs[:, 7] / div, mvs[:, 8] / div
    bw, bh = mvs[:, 1], mvs[:, 2]
    out = np.zeros((3, 2 * mh, 2 * mw))
    if aligned.any():
        mx, my = x0[aligned] >> 4, y0[aligned] >> 4
        ok = (mx >= 0) & (mx < mw) & (my >= 0) & (my < mh)
        flat, size = np.where(ok, my * mw + mx, mh * mw), mh * mw + 1
        sums = np.stack([np.bincount(flat, vx[aligned], size), np.bincount(flat, vy[aligned], size),
                         np.bincount(flat, None, size)])[:, :-1]
        out.reshape(3, mh, 2, mw, 2)[...] = sums.reshape(3, mh, 1, mw, 1)
    rest = ~aligned
    if rest.any():
        uh, uw = 2 * mh, 2 * mw
        ux = (x0[rest] >> 3)[:, None] + _OX
        uy = (y0[rest] >> 3)[:, None] + _OY
        ok = ((_OX < (bw[rest, None] >> 3)) & (_OY < (bh[rest, None] >> 3))
              & (ux >= 0) & (ux < uw) & (uy >= 0) & (uy < uh))
        flat, size = np.where(ok, uy * uw + ux, uh * uw).ravel(), uh * uw + 1
        out += np.stack([np.bincount(flat, np.repeat(vx[rest], 4), size),
                         np.bincount(flat, np.repeat(vy[rest], 4), size),
                         np.bincount(flat, None, size)])[:, :-1].reshape(3, uh, uw)
    return out
