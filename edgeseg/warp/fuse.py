"""interp's fusion weights: linear in the frame's place in the gap, or also photometric.

Usage: ``wb_cells = photometric_weights(wb, match_error(thumb_a, forward, thumbs),
match_error(thumb_b, back, thumbs))``; ``mix(fused_a, warped_b, wb_cells)``

Linear (the paper's interp-mv): frame i of a gap of K gets (K−i)/K of keyframe a and i/K of keyframe b, the
same in every cell. Photometric: each keyframe's thumbnail (one RGB colour per cell of the warp grid,
Frame.thumbnail) is warped along the same position chains as its features; where it matches the frame's own
thumbnail worse than the other keyframe's, that keyframe loses weight in that cell. The odds w_b / w_a are
multiplied by exp((e_a − e_b) / scale), e = the L1 RGB distance per cell, so equal errors give the linear
weights. Cells that one keyframe's motion got wrong, or that are hidden in it (road a car has not yet
uncovered), then come mostly from the other keyframe.
"""

from __future__ import annotations

import numpy as np

from edgeseg.system.jit import compiled
from edgeseg.warp.bilinear import array_module, corner, warp_blend, with_simd

PHOTOMETRIC_SCALE = 16.0  # e_a − e_b (L1 over R, G, B in 0…255) that changes a keyframe's odds by e; measured


def _error_into(src, pos, thumbs, out):
    """out[p] = Σ_c |bilinear sample of src (h_s, w_s, 3) at pos[p] − thumbs[p, c]| for N points (pos (N, 2),
    thumbs (N, 3)): the numba kernel of match_error, with the warp kernels' tap arithmetic (corner) and, as
    there, unsigned flat offsets (signed ones are checked for wrap-around on every access)."""
    hs, ws = src.shape[0], src.shape[1]
    flat, pf, tf = src.reshape(-1), pos.reshape(-1), thumbs.reshape(-1)
    xmax, ymax = np.float32(ws - 1), np.float32(hs - 1)
    xm = np.uintp(ws - 2) if ws > 1 else np.uintp(0)
    ym = np.uintp(hs - 2) if hs > 1 else np.uintp(0)
    dx, dy = np.uintp(3 if ws > 1 else 0), np.uintp(3 * ws if hs > 1 else 0)
    wsu = np.uintp(ws)
    for pp in range(out.shape[0]):
        p = np.uintp(pp)
        x0, y0, fx, fy, gx, gy = corner(pf[2 * p], pf[2 * p + 1], xmax, ymax, xm, ym)
        w00, w01, w10, w11 = gx * gy, fx * gy, gx * fy, fx * fy
        b, t = (y0 * wsu + x0) * np.uintp(3), np.uintp(3) * p
        e = np.float32(0.0)
        for cc in range(3):
            c = np.uintp(cc)
            v = (flat[b + c] * w00 + flat[b + dx + c] * w01) + flat[b + dy + c] * w10 + flat[b + dy + dx + c] * w11
            e += abs(v - tf[t + c])
        out[p] = e


def _mix_into(a, b, weight, out):
    """out[p, k] = a[p, k] + weight[p] · (b[p, k] − a[p, k]) (the numba kernel of mix; out may be a)."""
    for p in range(a.shape[0]):
        w = weight[p]
        for k in range(a.shape[1]):
            out[p, k] = a[p, k] + w * (b[p, k] - a[p, k])


def match_error(thumb_key, positions, thumbs):
    """(n, h, w) L1 RGB distance between each frame's thumbnail (thumbs (n, h, w, 3)) and the keyframe's
    thumbnail (h_k, w_k, 3) warped to it along `positions` (n, h, w, 2)."""
    xp = array_module(thumbs)
    kernel = _error_kernel() if xp is np else None
    if kernel is None:
        warped = warp_blend([(thumb_key, positions, xp.ones(positions.shape[0], xp.float32))])
        warped -= thumbs
        xp.abs(warped, out=warped)
        return warped[..., 0] + warped[..., 1] + warped[..., 2]  # .sum(-1) over 3 channels: 10× slower here
    out = np.empty(positions.shape[:-1], np.float32)
    kernel(np.ascontiguousarray(thumb_key, np.float32), np.ascontiguousarray(positions, np.float32),
           np.ascontiguousarray(thumbs, np.float32), out.reshape(-1))
    return out


def mix(a, b, weight):
    """a + weight · (b − a) in place into a: a, b (..., C), weight (...) per point (a's weight is 1 − weight)."""
    xp = array_module(a)
    kernel = compiled(_mix_into) if xp is np and a.flags.c_contiguous and b.flags.c_contiguous else None
    if kernel is None:
        a += weight[..., None] * (b - a)  # broadcast over a short last axis: ~25× slower than the kernel here
        return a
    c = a.shape[-1]
    kernel(a.reshape(-1, c), b.reshape(-1, c), np.ascontiguousarray(weight, np.float32).reshape(-1), a.reshape(-1, c))
    return a


def _error_kernel():
    return with_simd(_error_into)


def photometric_weights(wb, err_a, err_b, *, scale: float = PHOTOMETRIC_SCALE):
    """Keyframe b's weight (n, h, w) per cell: wb (n,) its linear weights (< 1; 0 stays 0; a's are 1 − wb),
    err_a / err_b (n, h, w) the match errors of each keyframe's warped thumbnail. a's weight is 1 − the result.
    Contract: odds_b/a = (wb / (1 − wb)) · exp((err_a − err_b) / scale), i.e. a logistic of the log-odds."""
    xp = array_module(err_a)
    wb = xp.asarray(wb, xp.float32)
    with np.errstate(divide="ignore"):  # wb = 0: log-odds −inf, weight 0
        prior = xp.log(wb / (1 - wb))[:, None, None]
    logit = (err_a - err_b) * xp.float32(1.0 / scale)
    logit += prior
    return (1.0 / (1.0 + xp.exp(-logit))).astype(xp.float32)
