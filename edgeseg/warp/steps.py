"""The bilinear kernels' inner steps as plain Python: what numba compiles, and what their vector forms equal.

Usage: the kernels of edgeseg.warp.bilinear call them; ``edgeseg.warp.simd.register()`` gives numba eight-lane
vector implementations of them (bit-identical for finite positions). numba's on-disk cache of the kernels is
keyed on bilinear.py: after editing only this module or simd.py in a source checkout, delete
edgeseg/warp/__pycache__/*.nbi so the kernels recompile.
"""

from __future__ import annotations

import numpy as np


def corner(x, y, xmax, ymax, xm, ym):
    """(x0, y0, fx, fy, gx, gy) of a bilinear sample at (x, y): clamped to [0, max], top-left cell capped at
    size − 2 (xm, ym; unsigned), fractions and their complements, float32. The kernels' shared tap arithmetic
    (compiled through edgeseg.warp.simd, whose eight-lane version repeats it operation for operation)."""
    x = min(max(x, np.float32(0.0)), xmax)
    y = min(max(y, np.float32(0.0)), ymax)
    x0, y0 = min(np.uintp(x), xm), min(np.uintp(y), ym)
    fx, fy = x - np.float32(x0), y - np.float32(y0)
    return x0, y0, fx, fy, np.float32(1.0) - fx, np.float32(1.0) - fy


def taps8(out, oi, src, b, dx, dy, w00, w01, w10, w11, accumulate):
    """out[oi:oi+8] (+= if accumulate, else =) the bilinear combination of src's four taps at flat offsets b,
    b+dx, b+dy, b+dy+dx (eight channels each). The blend kernel's inner step; edgeseg.warp.simd gives numba an
    eight-lane vector implementation with this arithmetic (this plain definition is what it must equal)."""
    for k in range(8):
        v = (src[b + k] * w00 + src[b + dx + k] * w01) + src[b + dy + k] * w10 + src[b + dy + dx + k] * w11
        out[oi + k] = out[oi + k] + v if accumulate else v


def taps2(out, oi, src, b, dy, w00, w01, w10, w11):
    """out[oi:oi+2] = the bilinear combination of a two-channel map's taps at flat offsets b, b+2, b+dy, b+dy+2:
    the position chains' step (gap_positions); vector form in edgeseg.warp.simd, as for taps8."""
    for k in range(2):
        out[oi + k] = (src[b + k] * w00 + src[b + 2 + k] * w01) + src[b + dy + k] * w10 + src[b + dy + 2 + k] * w11


def samples8(out, src, pos, i, a, xmax, ymax, xm, ym, ws, accumulate):
    """Eight consecutive points i … i+7 of the blend with C = 8: clamp pos to [0, max], taps and weights (× a),
    then taps8 into out (flat (N·8,)); src flat (h_s·w_s·8,), ws = its width, xm/ym = width/height − 2. The
    blend kernel's unit for eight-class maps; edgeseg.warp.simd computes the eight points' weights as vectors."""
    for j in range(8):
        p = 2 * (i + j)
        x0, y0, fx, fy, gx, gy = corner(pos[p], pos[p + 1], xmax, ymax, xm, ym)
        taps8(out, (i + j) * 8, src, (y0 * ws + x0) * 8, 8, ws * 8, gx * gy * a, fx * gy * a, gx * fy * a,
              fx * fy * a, accumulate)


def steps8(out, prev, grid, d, p, sign, xmax, ymax, xm, ym, ws):
    """Eight consecutive cells p … p+7 of a position-chain step: prev (flat two-channel map of width ws)
    sampled at grid + sign · d, clamped to [0, max], into out (all flat (h·w·2,)); xm/ym = width/height − 2.
    The chain kernel's unit; edgeseg.warp.simd computes the eight cells' weights as vectors."""
    for j in range(8):
        q = 2 * (p + j)
        x0, y0, fx, fy, gx, gy = corner(grid[q] + sign * d[q], grid[q + 1] + sign * d[q + 1], xmax, ymax, xm, ym)
        taps2(out, q, prev, (y0 * ws + x0) * 2, ws * 2, gx * gy, fx * gy, gx * fy, fx * fy)
