"""Bilinear warping and blending of channels-last feature maps, NumPy on the CPU or CuPy on the GPU.

Usage: ``out = warp(features_hwc, positions)``; ``out = warp_blend([(fa, pa, 0.7), (fb, pb, 0.3)])``

Positions are (h, w, 2) float32 arrays of (x, y) sample points in source cells; points outside the map are
clamped to its border. Channels-last layout makes each of the four taps one contiguous C-vector gather.
The functions take the array module from their inputs: CuPy arrays stay on the device (same code, its
kernels), NumPy arrays on the host.
"""

from __future__ import annotations

import math

import numpy as np

from edgeseg.system.jit import compiled
from edgeseg.warp.steps import corner, samples8, steps8, taps2, taps8


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


def _blend_into(src, pos, alpha, per, out, first):
    """out (N, C) (+)= alpha[m] · bilinear sample of src (h_s, w_s, C) at pos (N, 2), for the m-th run of `per`
    points: the numba kernel of warp_blend, with _taps' clamping and float32 weights. Unsigned flat offsets:
    numba checks signed indices for wrap-around on every access, which cost a third of the time here.
    Channels go eight at a time through taps8 (vector instructions, edgeseg.warp.simd), the rest one by one.
    (Measured on the recorded gaps of a real clip and kept: a loop per run instead of a division per point,
    8 % faster; not kept: taps and weights in a separate vectorised pass, 25 % slower there.)"""
    hs, ws, c = src.shape
    flat, o = src.reshape(-1), out.reshape(-1)
    xmax, ymax = np.float32(ws - 1), np.float32(hs - 1)
    cu, wsu = np.uintp(c), np.uintp(ws)
    dx = np.uintp(c) if ws > 1 else np.uintp(0)
    dy = np.uintp(ws * c) if hs > 1 else np.uintp(0)
    xm = np.uintp(ws - 2) if ws > 1 else np.uintp(0)
    ym = np.uintp(hs - 2) if hs > 1 else np.uintp(0)
    c8 = c - c % 8
    grouped = c == 8 and ws > 1 and hs > 1  # eight points at a time (samples8)
    pf = pos.reshape(-1)
    for m in range(alpha.shape[0]):
        a = alpha[m]
        start, end = m * per, (m + 1) * per
        if grouped:
            for g in range(start, end - 7, 8):
                samples8(o, flat, pf, np.uintp(g), a, xmax, ymax, xm, ym, wsu, not first)
            start = end - (end - start) % 8
        for i in range(start, end):
            x0, y0, fx, fy, gx, gy = corner(pos[i, 0], pos[i, 1], xmax, ymax, xm, ym)
            w00, w01, w10, w11 = gx * gy * a, fx * gy * a, gx * fy * a, fx * fy * a
            b, oi = (y0 * wsu + x0) * cu, np.uintp(i) * cu
            for kk in range(0, c8, 8):
                k = np.uintp(kk)
                taps8(o, oi + k, flat, b + k, dx, dy, w00, w01, w10, w11, not first)
            for kk in range(c8, c):
                k = np.uintp(kk)
                v = (flat[b + k] * w00 + flat[b + dx + k] * w01) + flat[b + dy + k] * w10 + flat[b + dy + dx + k] * w11
                o[oi + k] = v if first else o[oi + k] + v


def with_simd(fn):
    """compiled(fn) with the vector forms of its steps (edgeseg.warp.steps) registered with numba first
    (edgeseg.warp.simd.register), or None without numba."""
    kernel = compiled(fn)
    if kernel is not None:
        from edgeseg.warp.simd import register

        register()
    return kernel


def _blend_kernel():
    return with_simd(_blend_into)


def _gap_kernel():
    return with_simd(_gap_into)


def warp_blend(parts: list[tuple[np.ndarray, np.ndarray, float | np.ndarray]], *, add_to=None) -> np.ndarray:
    """Σ alpha · warp(src, pos) over (src (h_s, w_s, C), pos (..., h, w, 2), alpha) parts → (..., h, w, C).

    Batched: pos may hold n position maps (n, h, w, 2) with alpha an (n,) array of per-map weights; all n
    outputs then come from one gather per tap (interp fuses a whole keyframe gap at once).
    add_to: an earlier result (contiguous, same shape) that the sum is added into and returned, so that a
    blend can be computed part by part (interp warps keyframe a before keyframe b's features exist).
    """
    kernel = _blend_kernel() if all(array_module(src) is np for src, _, _ in parts) else None
    if kernel is None:
        out = _blend_arrays(parts)
        if add_to is not None:
            add_to += out
            return add_to
        return out
    return _blend_compiled(kernel, parts, add_to)


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


def _blend_compiled(kernel, parts, add_to=None) -> np.ndarray:
    """warp_blend on the host through the compiled kernel: one pass per part, no temporaries."""
    shape = parts[0][1].shape[:-1]
    n = math.prod(shape)  # np.prod of a small tuple costs ~10-30 µs
    c = parts[0][0].shape[2]
    if add_to is not None:
        assert add_to.shape == (*shape, c) and add_to.flags.c_contiguous and add_to.dtype == np.float32
    out = np.empty((n, c), np.float32) if add_to is None else add_to.reshape(n, c)
    first = add_to is None
    for src, pos, alpha in parts:
        alpha = np.asarray(alpha, np.float32)
        if alpha.ndim == 0 and alpha == 0.0:
            continue
        kernel(np.ascontiguousarray(src, np.float32), np.ascontiguousarray(pos, np.float32).reshape(n, 2),
               alpha.reshape(-1), n // alpha.size, out, first)  # one weight per position map (or one in all)
        first = False
    if add_to is not None:
        return add_to
    if first:
        raise ValueError("warp_blend needs at least one part with a non-zero weight")
    return out.reshape(*shape, c)


def warp(src: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sample src (h_s, w_s, C) at positions pos (h, w, 2) → (h, w, C) float32."""
    return warp_blend([(src, pos, 1.0)])


def _gap_into(grid, fields, has, m, forward, back):
    """numba kernel of gap_positions: both chains of a gap in one call (bilinear composition on the host).

    fields (n + 1, h, w, 2): the held frames' fields, then keyframe b's; has: which exist. The step is the blend
    kernel's tap arithmetic for 2 channels: one call per gap, where Python-level calls per chain or per step
    cost more than the arithmetic.
    """
    n, h, w = forward.shape[0], grid.shape[0], grid.shape[1]
    xmax, ymax = np.float32(w - 1), np.float32(h - 1)
    wu = np.uintp(w)
    dx = np.uintp(2) if w > 1 else np.uintp(0)
    dy = np.uintp(2 * w) if h > 1 else np.uintp(0)
    xm = np.uintp(w - 2) if w > 1 else np.uintp(0)
    ym = np.uintp(h - 2) if h > 1 else np.uintp(0)
    g = grid.reshape(-1)

    grouped = dx and dy  # eight cells at a time (steps8)
    tail = h * w - (h * w) % 8 if grouped else 0

    def step(prev, d, sign, o):  # o = prev sampled at grid + sign · d
        if grouped:
            for p8 in range(0, tail, 8):
                steps8(o, prev, g, d, np.uintp(p8), sign, xmax, ymax, xm, ym, wu)
        for p in range(tail, h * w):
            q = np.uintp(2 * p)
            x0, y0, fx, fy, gx, gy = corner(g[q] + sign * d[q], g[q + 1] + sign * d[q + 1], xmax, ymax, xm, ym)
            b = (y0 * wu + x0) * np.uintp(2)
            if dx:  # both horizontal taps are one contiguous run of four floats
                taps2(o, q, prev, b, dy, gx * gy, fx * gy, gx * fy, fx * fy)
                continue
            for cc in range(2):
                c = np.uintp(cc)
                o[q + c] = (prev[b + c] * (gx * gy) + prev[b + dx + c] * (fx * gy)
                            + prev[b + dy + c] * (gx * fy) + prev[b + dy + dx + c] * (fx * fy))

    prev = g
    for k in range(n):
        o = forward[k].reshape(-1)
        if has[k]:
            step(prev, fields[k].reshape(-1), np.float32(1.0), o)
        else:
            o[:] = prev
        prev = o
    prev = g
    for i in range(m):  # frame n-1-i: through keyframe b's field, then those of frames n-1 … n-i
        o = back[n - 1 - i].reshape(-1)
        step(prev, fields[n - i].reshape(-1), np.float32(-1.0), o)
        prev = o
    for i in range(n - m):
        back[i] = grid


def gap_positions(grid: np.ndarray, fields: list, field_b) -> tuple[np.ndarray, np.ndarray, int]:
    """Where the cells of a keyframe gap's held frames lie in the keyframe before (a) and after (b) the gap.

    Usage: ``forward, back, m = gap_positions(identity_grid(h, w), [d1, d2, d3], d_b)`` → two (3, h, w, 2) arrays.
    fields: each held frame's displacement field to its predecessor (None: no motion, positions kept);
    field_b: keyframe b's, or None. forward[i] = p_i with p_i = warp(p_{i-1}, grid + d_i), p_{-1} = grid.
    back: the backward chain q_i = warp(q_{i+1}, grid - d_{i+1}), q_n = grid, for the last m frames: it stops
    at the first frame without motion to its predecessor (frames before it have grid; b does not reach them).
    One compiled call on the host; step by step elsewhere (CuPy, no numba).
    """
    xp = array_module(grid)
    n = len(fields)
    m = 0
    if field_b is not None and n:
        m = 1
        while m < n and fields[n - m] is not None:
            m += 1
    kernel = _gap_kernel() if xp is np else None
    if kernel is None:
        def steps(chain, sign):
            out, p = [], grid
            for d in chain:
                if d is not None:
                    p = warp(p, grid + sign * d)
                out.append(p)
            return out
        forward = xp.stack(steps(fields, 1.0)) if n else xp.empty((0, *grid.shape), xp.float32)
        back = xp.empty_like(forward)
        back[:n - m] = grid
        if m:
            back[n - m:] = xp.stack(steps([field_b, *fields[n - 1:n - m:-1]], -1.0)[::-1])
        return forward, back, m
    # Preallocated arrays and plain loops: np.stack / np.zeros_like cost more than the copies themselves here.
    has = np.ones(n + 1, np.bool_)
    stacked = np.empty((n + 1, *grid.shape), np.float32)
    for k, d in enumerate([*fields, field_b]):
        if d is None:
            has[k] = False
        else:
            stacked[k] = d
    forward, back = np.empty((2, n, *grid.shape), np.float32)
    kernel(np.ascontiguousarray(grid, np.float32), stacked, has, m, forward, back)
    return forward, back, m
