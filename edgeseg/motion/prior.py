"""The prior-agreement rule: a vector's distance picked by how well its velocity agrees with the previous frame's
field (multi-reference streams whose decoder gives no pixels to identify the frame from; see
edgeseg.motion.dense).

Usage: ``dist = pick_distances(mvs, dist, kmax=4, prior=previous_field, direction=-1)``
"""

from __future__ import annotations

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.system.jit import compiled


def pick_distances(mvs: np.ndarray, dist: np.ndarray, kmax: int, prior: MotionField, direction: int) -> np.ndarray:
    """Per vector of one direction: the whole distance k ≤ kmax whose velocity agrees clearly best with the prior.

    The velocity of a vector m over k frames is m/k (past) or -m/k (future); the k closest to the prior p is
    |m|² / (m·p) in the continuous case, so only its floor and ceiling are tried. The vector keeps its nearest-
    anchor distance unless the prior is valid there, that error is over 0.5 px, and the pick halves it.
    """
    kernel = compiled(_pick_into)
    if kernel is not None:
        out = dist.astype(np.float64, copy=True)
        kernel(mvs, out, kmax, prior.dx, prior.dy, prior.valid, prior.stride, direction)
        return out
    return _pick_numpy(mvs, dist, kmax, prior, direction)


def _pick_numpy(mvs: np.ndarray, dist: np.ndarray, kmax: int, prior: MotionField, direction: int) -> np.ndarray:
    """pick_distances as whole-array passes (without numba)."""
    # only vectors that move (a zero vector is zero at any distance) and whose block has a valid prior
    sel = np.flatnonzero((mvs[:, 0] == direction) & ((mvs[:, 7] != 0) | (mvs[:, 8] != 0)))
    if not len(sel):
        return dist
    gh, gw = prior.valid.shape
    cell = (np.minimum(mvs[sel, 6] // prior.stride, gh - 1) * gw
            + np.minimum(mvs[sel, 5] // prior.stride, gw - 1))  # dst is inside the frame: no lower clip
    ok = prior.valid.ravel().take(cell)
    sel, cell = sel[ok], cell[ok]
    if not len(sel):
        return dist
    v = mvs[sel]
    scale = -direction / v[:, 9]  # +1 past, -1 future: velocity = m / k or -m / k
    mx, my = v[:, 7] * scale, v[:, 8] * scale
    px, py = prior.dx.ravel().take(cell), prior.dy.ravel().take(cell)
    near = dist[sel]
    ex, ey = mx / near - px, my / near - py
    e2_near = ex * ex + ey * ey
    keep = e2_near > 0.25  # the nearest anchor is off by more than 0.5 px: look further
    if not keep.any():
        return dist
    sel, mx, my, px, py, e2_near = sel[keep], mx[keep], my[keep], px[keep], py[keep], e2_near[keep]
    dot = mx * px + my * py
    kstar = np.divide(mx * mx + my * my, dot, out=np.ones_like(dot), where=dot > 1e-6)
    k_lo = np.clip(np.floor(kstar), 1, kmax)
    k_hi = np.clip(np.ceil(kstar), 1, kmax)
    e2_lo = (mx / k_lo - px) ** 2 + (my / k_lo - py) ** 2
    e2_hi = (mx / k_hi - px) ** 2 + (my / k_hi - py) ** 2
    k_best = np.where(e2_hi < e2_lo, k_hi, k_lo)
    take = np.minimum(e2_lo, e2_hi) < 0.25 * e2_near  # the pick at least halves the error
    out = dist.copy()
    out[sel[take]] = k_best[take]
    return out


def _pick_into(mvs, dist, kmax, pdx, pdy, pvalid, stride, direction):
    """numba kernel of _pick_distances: the same rule, one vector at a time, written into dist."""
    gh, gw = pvalid.shape
    for i in range(mvs.shape[0]):
        if mvs[i, 0] != direction or (mvs[i, 7] == 0 and mvs[i, 8] == 0):
            continue
        cy, cx = min(mvs[i, 6] // stride, gh - 1), min(mvs[i, 5] // stride, gw - 1)
        if not pvalid[cy, cx]:
            continue
        scale = -direction / mvs[i, 9]
        mx, my = mvs[i, 7] * scale, mvs[i, 8] * scale
        px, py = np.float64(pdx[cy, cx]), np.float64(pdy[cy, cx])
        near = dist[i]
        ex, ey = mx / near - px, my / near - py
        e2_near = ex * ex + ey * ey
        if not e2_near > 0.25:
            continue
        dot = mx * px + my * py
        kstar = (mx * mx + my * my) / dot if dot > 1e-6 else 1.0
        k_lo = min(max(np.floor(kstar), 1.0), kmax)
        k_hi = min(max(np.ceil(kstar), 1.0), kmax)
        e2_lo = (mx / k_lo - px) ** 2 + (my / k_lo - py) ** 2
        e2_hi = (mx / k_hi - px) ** 2 + (my / k_hi - py) ** 2
        if min(e2_lo, e2_hi) < 0.25 * e2_near:
            dist[i] = k_hi if e2_hi < e2_lo else k_lo
