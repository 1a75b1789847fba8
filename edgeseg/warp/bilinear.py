"""Bilinear warping and blending of channels-last feature maps, NumPy on the CPU or CuPy on the GPU.

Usage: ``out = warp(features_hwc, positions)``; ``out = warp_blend([(fa, pa, 0.7), (fb, pb, 0.3)])``

Positions are (h, w, 2) float32 arrays of (x, y) sample points in source cells; points outside the map are
clamped to its border. Channels-last layout makes each of the four taps one contiguous C-vector gather.
The functions take the array module from their inputs: CuPy arrays stay on the device (same code, its
kernels), NumPy arrays on the host.
"""

from __future__ import annotations

import numpy as np

from edgeseg.jit import compiled


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


def _taps_into(pos, base, count, hs, ws, alpha, idx, wts):
    """Pass 1 of the warp kernels: for pos[base:base+count] (points, 2), the flat index of each top-left tap
    (int32) and the four bilinear weights (4, count) times alpha, with _taps' clamping. A loop of plain float
    arithmetic that LLVM vectorises; the gathers run in a second loop (one fused loop ran 1.6x slower)."""
    xmax, ymax = np.float32(ws - 1), np.float32(hs - 1)
    xm, ym = np.int32(max(ws - 2, 0)), np.int32(max(hs - 2, 0))
    for j in range(count):
        x = min(max(pos[base + j, 0], np.float32(0.0)), xmax)
        y = min(max(pos[base + j, 1], np.float32(0.0)), ymax)
        x0, y0 = min(np.int32(x), xm), min(np.int32(y), ym)
        fx, fy = x - np.float32(x0), y - np.float32(y0)
        gx, gy = np.float32(1.0) - fx, np.float32(1.0) - fy
        wts[0, j], wts[1, j], wts[2, j], wts[3, j] = gx * gy * alpha, fx * gy * alpha, gx * fy * alpha, fx * fy * alpha
        idx[j] = y0 * np.int32(ws) + x0


def _blend_into(src, pos, alpha, per, out, first):
    """out (N, C) (+)= alpha[m] · bilinear sample of src (h_s, w_s, C) at pos (N, 2), for the m-th run of `per`
    points: the numba kernel of warp_blend (taps and weights per run, then the C-vector gathers)."""
    hs, ws, c = src.shape
    s2 = src.reshape(hs * ws, c)
    dx, dy = (1 if ws > 1 else 0), (ws if hs > 1 else 0)
    idx, wts = np.empty(per, np.int32), np.empty((4, per), np.float32)
    for m in range(alpha.shape[0]):
        base = m * per
        _taps_into(pos, base, per, hs, ws, alpha[m], idx, wts)
        for j in range(per):
            b = idx[j]
            w00, w01, w10, w11 = wts[0, j], wts[1, j], wts[2, j], wts[3, j]
            o, r00, r01, r10, r11 = out[base + j], s2[b], s2[b + dx], s2[b + dy], s2[b + dy + dx]
            if first:
                for k in range(c):
                    o[k] = r00[k] * w00 + r01[k] * w01 + r10[k] * w10 + r11[k] * w11
            else:
                for k in range(c):
                    o[k] += r00[k] * w00 + r01[k] * w01 + r10[k] * w10 + r11[k] * w11


def warp_blend(parts: list[tuple[np.ndarray, np.ndarray, float | np.ndarray]]) -> np.ndarray:
    """Σ alpha · warp(src, pos) over (src (h_s, w_s, C), pos (..., h, w, 2), alpha) parts → (..., h, w, C).

    Batched: pos may hold n position maps (n, h, w, 2) with alpha an (n,) array of per-map weights; all n
    outputs then come from one gather per tap (interp fuses a whole keyframe gap at once).
    """
    kernel = compiled(_blend_into, _taps_into) if all(array_module(src) is np for src, _, _ in parts) else None
    return _blend_compiled(kernel, parts) if kernel is not None else _blend_arrays(parts)


def _blend_arrays(parts) -> np.ndarray:
    """warp_blend as whole-array gathers: NumPy without numba, and CuPy on the GPU."""
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


def _blend_compiled(kernel, parts) -> np.ndarray:
    """warp_blend on the host through the compiled kernel: one pass per part, no temporaries."""
    shape = parts[0][1].shape[:-1]
    n = int(np.prod(shape))
    out = np.empty((n, parts[0][0].shape[2]), np.float32)
    first = True
    for src, pos, alpha in parts:
        alpha = np.asarray(alpha, np.float32)
        if alpha.ndim == 0 and alpha == 0.0:
            continue
        kernel(np.ascontiguousarray(src, np.float32), np.ascontiguousarray(pos, np.float32).reshape(n, 2),
               alpha.reshape(-1), n // alpha.size, out, first)  # one weight per position map (or one in all)
        first = False
    if first:
        raise ValueError("warp_blend needs at least one part with a non-zero weight")
    return out.reshape(*shape, parts[0][0].shape[2])


def warp(src: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sample src (h_s, w_s, C) at positions pos (h, w, 2) → (h, w, C) float32."""
    return warp_blend([(src, pos, 1.0)])


def _chain_into(grid, disps, has, sign, out):
    """numba kernel of chain(): out[k] = positions after step k (bilinear composition on the host).

    One call per chain instead of one blend per step; each step is _blend_into's two passes on 2 channels.
    """
    h, w = grid.shape[0], grid.shape[1]
    n = h * w
    g, dx, dy = grid.reshape(n, 2), (1 if w > 1 else 0), (w if h > 1 else 0)
    idx, wts, at = np.empty(n, np.int32), np.empty((4, n), np.float32), np.empty((n, 2), np.float32)
    prev = g
    for k in range(disps.shape[0]):
        o = out[k].reshape(n, 2)
        if not has[k]:
            o[:] = prev
            prev = o
            continue
        d = disps[k].reshape(n, 2)
        for j in range(n):
            at[j, 0] = g[j, 0] + sign * d[j, 0]
            at[j, 1] = g[j, 1] + sign * d[j, 1]
        _taps_into(at, 0, n, h, w, np.float32(1.0), idx, wts)
        for j in range(n):
            b = idx[j]
            for c in range(2):
                o[j, c] = (prev[b, c] * wts[0, j] + prev[b + dx, c] * wts[1, j]
                           + prev[b + dy, c] * wts[2, j] + prev[b + dy + dx, c] * wts[3, j])
        prev = o


def chain(grid: np.ndarray, disps: list, *, sign: float = 1.0) -> np.ndarray:
    """Compose per-frame displacement fields into positions: p_k = warp(p_{k-1}, grid + sign · d_k), p_{-1} = grid.

    Usage: ``positions = chain(identity_grid(h, w), [d1, d2, d3])`` → (3, h, w, 2) (prop/interp's forward chain;
    sign=-1 with the fields in reverse order is interp's backward chain). A None field keeps the previous
    positions. One compiled call for the whole chain on the host; step by step elsewhere (CuPy, no numba).
    """
    xp = array_module(grid)
    kernel = compiled(_chain_into, _taps_into) if xp is np else None
    if kernel is None or not disps:
        out, p = [], grid
        for d in disps:
            if d is not None:
                p = warp(p, grid + sign * d)
            out.append(p)
        return xp.stack(out) if out else xp.empty((0, *grid.shape), xp.float32)
    has = np.array([d is not None for d in disps])
    zero = np.zeros_like(grid)
    stacked = np.stack([d if d is not None else zero for d in disps]).astype(np.float32, copy=False)
    out = np.empty((len(disps), *grid.shape), np.float32)
    kernel(np.ascontiguousarray(grid, np.float32), stacked, has, np.float32(sign), out)
    return out
