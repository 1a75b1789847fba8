"""Bilinear warping and blending of channels-last feature maps, NumPy on the CPU or CuPy on the GPU.

Usage: ``out = warp(features_hwc, positions)``; ``out = warp_blend([(fa, pa, 0.7), (fb, pb, 0.3)])``

Positions are (h, w, 2) float32 arrays of (x, y) sample points in source cells; points outside the map are
clamped to its border. Channels-last layout makes each of the four taps one contiguous C-vector gather.
The functions take the array module from their inputs: CuPy arrays stay on the device (same code, its
kernels), NumPy arrays on the host.
"""

from __future__ import annotations

import numpy as np


def array_module(a):
    """numpy, or cupy for CuPy arrays (without importing CuPy on machines that do not use it)."""
    if type(a).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np


def identity_grid(h: int, w: int, xp=np) -> np.ndarray:
    """(h, w, 2) float32 positions of every cell in its own map: warping with it is the identity."""
    ys, xs = xp.mgrid[0:h, 0:w].astype(xp.float32)
    return xp.stack([xs, ys], axis=-1)


def _taps(pos, h: int, w: int):
    """Flat indices (4, n) and float32 weights (4, n, 1) of the four bilinear taps for every position."""
    xp = array_module(pos)
    x = xp.clip(pos[..., 0].ravel(), 0, w - 1)
    y = xp.clip(pos[..., 1].ravel(), 0, h - 1)
    x0 = xp.minimum(x.astype(xp.intp), w - 2) if w > 1 else xp.zeros(x.shape, xp.intp)
    y0 = xp.minimum(y.astype(xp.intp), h - 2) if h > 1 else xp.zeros(y.shape, xp.intp)
    fx, fy = x - x0.astype(xp.float32), y - y0.astype(xp.float32)  # float32: float64 weights double the cost
    gx, gy = 1 - fx, 1 - fy
    dx, dy = int(w > 1), (w if h > 1 else 0)
    i00 = y0 * w + x0
    return xp.stack([i00, i00 + dx, i00 + dy, i00 + dy + dx]), xp.stack([gx * gy, fx * gy, gx * fy, fx * fy])[..., None]


def warp_blend(parts: list[tuple[np.ndarray, np.ndarray, float | np.ndarray]]) -> np.ndarray:
    """Σ alpha · warp(src, pos) over (src (h_s, w_s, C), pos (..., h, w, 2), alpha) parts → (..., h, w, C).

    Batched: pos may hold n position maps (n, h, w, 2) with alpha an (n,) array of per-map weights; all n
    outputs then come from one gather per tap (interp fuses a whole keyframe gap at once).
    """
    out = None
    for src, pos, alpha in parts:
        xp = array_module(src)
        batched = getattr(alpha, "ndim", 0) > 0
        if not batched and alpha == 0.0:
            continue
        hs, ws, c = src.shape
        flat = src.reshape(hs * ws, c)
        idx, wts = _taps(pos, hs, ws)
        if batched:  # one weight per position map, repeated over its h·w points
            wts *= xp.repeat(xp.asarray(alpha, xp.float32), pos.shape[-3] * pos.shape[-2])[:, None]
        elif alpha != 1.0:
            wts *= xp.float32(alpha)
        for i, wt in zip(idx, wts, strict=True):
            term = xp.take(flat, i, axis=0)  # one contiguous C-vector per tap (3x faster than flat[i] here)
            term *= wt
            if out is None:
                out = term
            else:
                out += term
    if out is None:
        raise ValueError("warp_blend needs at least one part with a non-zero weight")
    return out.reshape(*parts[0][1].shape[:-1], parts[0][0].shape[2])


def warp(src: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sample src (h_s, w_s, C) at positions pos (h, w, 2) → (h, w, C) float32."""
    return warp_blend([(src, pos, 1.0)])
