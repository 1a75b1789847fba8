"""A keyframe gap's positions chained along each vector's own reference frame (B-frame and multi-reference
streams), not only frame to frame.

Usage: ``forward, back = linked_positions(grid, disps, disp_b, links, m)`` (interp's Gap.between, where any
held frame has links).

A vector that points 2 frames back says exactly where its block was 2 frames ago; divided into two per-frame
steps it assumes the motion was even over both. Here a frame's cells are placed in keyframe a through the
frame each link points at: position_a(t) = position_a(t − k) sampled at cell + d_{−k}, averaged over the links
valid at a cell; cells no link covers follow the frame-to-frame chain. B-frames' future vectors place their
cells in keyframe b directly (or in a later held frame already placed in b), where the frame-to-frame chain
can only walk back through negated fields. Links to frames outside the gap are not used.
On the host one compiled call per gap (_linked_into: the blend kernel's tap arithmetic, cell by cell); on
the device, and without numba, the same steps as warps of whole position maps (NumPy or CuPy).
"""

from __future__ import annotations

import numpy as np

from edgeseg.warp.bilinear import array_module, warp, with_simd
from edgeseg.warp.steps import corner, taps2


def refine_positions(base, grid, cands, xp=None):
    """Positions from links: per cell, the mean over the valid links of the target frame's positions sampled at
    cell + link disp (cands: (target positions, disp, valid) each); `base` where no link is valid."""
    xp = array_module(grid) if xp is None else xp
    total, count = None, None
    for target, disp, valid in cands:
        moved = warp(target, grid + disp)
        v = valid.astype(xp.float32)[..., None]
        total = moved * v if total is None else total + moved * v
        count = v if count is None else count + v
    if total is None:
        return base
    return xp.where(count > 0, total / xp.maximum(count, 1.0), base).astype(xp.float32)


def linked_positions(grid, disps: list, disp_b, links: list, m: int, *, compiled: bool = True):
    """Where the gap's held frames' cells lie in keyframe a (forward) and in keyframe b (back: the last m frames;
    the others keep grid), as gap_positions gives them, but following each frame's links.

    disps: the n held frames' displacements to their predecessors on the warp grid (None: none); disp_b:
    keyframe b's; links: per held frame, (offset, disp, valid) on the warp grid (WarpSpace.links). compiled=False:
    the array path even where the kernel is available (tests).
    """
    xp = array_module(grid)
    n = len(disps)
    kernel = with_simd(_linked_into) if compiled and xp is np and n else None
    if kernel is not None:
        return _linked_compiled(kernel, grid, disps, disp_b, links, m)
    forward = xp.empty((n, *grid.shape), xp.float32)

    def in_a(j):  # held frame j's positions in a (-1: keyframe a itself)
        return grid if j < 0 else forward[j]

    prev = grid
    for i in range(n):  # display order: past links reach frames already placed
        base = prev if disps[i] is None else warp(prev, grid + disps[i])
        forward[i] = refine_positions(base, grid, [(in_a(i + off), d, v) for off, d, v in links[i] if -1 <= i + off < i], xp)
        prev = forward[i]
    b_in_a = warp(forward[n - 1], grid + disp_b) if n and disp_b is not None else None
    for i in range(n):  # again with the future links too, now that every frame has a place
        cands = [(in_a(i + off), d, v) for off, d, v in links[i] if -1 <= i + off < n and off]
        if b_in_a is not None:
            cands += [(b_in_a, d, v) for off, d, v in links[i] if i + off == n]
        if any(off > 0 for off, _, _ in links[i]):
            forward[i] = refine_positions(forward[i], grid, cands, xp)
    back = xp.empty_like(forward)
    back[:n - m] = grid
    nxt = grid
    for i in range(n - 1, n - m - 1, -1):  # reverse display order, from b
        d_next = disp_b if i == n - 1 else disps[i + 1]
        base = warp(nxt, grid - d_next)
        cands = [(grid if i + off == n else back[i + off], d, v) for off, d, v in links[i] if 0 < off and i + off <= n]
        back[i] = refine_positions(base, grid, cands, xp)
        nxt = back[i]
    return forward, back



def _linked_compiled(kernel, grid, disps, disp_b, links, m):
    """linked_positions in one compiled call: the gap's fields and links stacked into arrays."""
    n = len(disps)
    has = np.array([d is not None for d in [*disps, disp_b]], np.bool_)
    fields = np.zeros((n + 1, *grid.shape), np.float32)
    for k, d in enumerate([*disps, disp_b]):
        if d is not None:
            fields[k] = d
    flat = [(i, off, d, v) for i, frame in enumerate(links) for off, d, v in frame]
    owner = np.array([f[0] for f in flat], np.int64)
    offset = np.array([f[1] for f in flat], np.int64)
    ldisp = np.stack([f[2] for f in flat]).astype(np.float32, copy=False) if flat else \
        np.zeros((0, *grid.shape), np.float32)
    lvalid = np.stack([f[3] for f in flat]) if flat else np.zeros((0, *grid.shape[:2]), np.bool_)
    forward, back = np.empty((2, n, *grid.shape), np.float32)
    kernel(np.ascontiguousarray(grid, np.float32), fields, has, m, owner, offset, np.ascontiguousarray(ldisp),
           np.ascontiguousarray(lvalid), forward, back, np.empty(grid.shape, np.float32))
    return forward, back


def _linked_into(grid, fields, has, m, owner, offset, ldisp, lvalid, forward, back, b_in_a):
    """numba kernel of linked_positions: the same passes cell by cell, each sample the blend kernel's tap
    arithmetic for 2 channels (corner, taps2) and each mean the NumPy path's float32 sums in link order.
    owner: the held frame of each link (ascending)."""
    n, h, w = forward.shape[0], grid.shape[0], grid.shape[1]
    xmax, ymax = np.float32(w - 1), np.float32(h - 1)
    wu = np.uintp(w)
    dy = np.uintp(2 * w) if h > 1 else np.uintp(0)
    xm = np.uintp(w - 2) if w > 1 else np.uintp(0)
    ym = np.uintp(h - 2) if h > 1 else np.uintp(0)
    two = np.empty(2, np.float32)
    start, end = np.zeros(n, np.int64), np.zeros(n, np.int64)  # each held frame's links: owner is ascending
    for k in range(owner.shape[0]):
        if k == 0 or owner[k] != owner[k - 1]:
            start[owner[k]] = k
        end[owner[k]] = k + 1
    g, fa, ba, bia = grid.reshape(-1), forward.reshape(n, -1), back.reshape(n, -1), b_in_a.reshape(-1)
    fl, ld = fields.reshape(n + 1, -1), ldisp.reshape(ldisp.shape[0], -1)
    lv = lvalid.reshape(lvalid.shape[0], -1)

    def sample(src, x, y):  # flat (h·w·2) src at (x, y) into two
        x0, y0, fx, fy, gx, gy = corner(x, y, xmax, ymax, xm, ym)
        b = (y0 * wu + x0) * np.uintp(2)
        if w > 1:
            taps2(two, 0, src, b, dy, gx * gy, fx * gy, gx * fy, fx * fy)
        else:
            for c in range(2):
                two[c] = (src[b + c] * (gx * gy) + src[b + c] * (fx * gy)) + src[b + dy + c] * (gx * fy) \
                    + src[b + dy + c] * (fx * fy)

    def refine(out, i, lo, hi, into_a):
        # out[i] = mean over frame i's links with lo <= i + offset <= hi of their targets, where any is valid;
        # into a, links into b come last, as the NumPy path appends them
        for p in range(h * w):
            q = 2 * p
            tx, ty, cnt = np.float32(0.0), np.float32(0.0), np.float32(0.0)
            for sweep in range(2 if into_a else 1):
                for k in range(start[i], end[i]):
                    j = i + offset[k]
                    if offset[k] == 0 or j < lo or j > hi or not lv[k, p] or (into_a and (j == n) != (sweep == 1)):
                        continue
                    if into_a:  # positions in a: grid (j = -1), a held frame, or b
                        tgt = g if j < 0 else (bia if j == n else fa[j])
                    else:  # positions in b: b itself (j = n) or a held frame
                        tgt = g if j == n else ba[j]
                    sample(tgt, g[q] + ld[k, q], g[q + 1] + ld[k, q + 1])
                    tx, ty, cnt = tx + two[0], ty + two[1], cnt + np.float32(1.0)
            if cnt > 0:
                out[i, q], out[i, q + 1] = tx / cnt, ty / cnt

    for i in range(n):  # display order: the chain, then the past links
        prev = g if i == 0 else fa[i - 1]
        for p in range(h * w):
            q = 2 * p
            if has[i]:
                sample(prev, g[q] + fl[i, q], g[q + 1] + fl[i, q + 1])
                fa[i, q], fa[i, q + 1] = two[0], two[1]
            else:
                fa[i, q], fa[i, q + 1] = prev[q], prev[q + 1]
        refine(fa, i, -1, i - 1, True)
    reach_b = n > 0 and has[n]
    if reach_b:
        for p in range(h * w):
            q = 2 * p
            sample(fa[n - 1], g[q] + fl[n, q], g[q + 1] + fl[n, q + 1])
            bia[q], bia[q + 1] = two[0], two[1]
    for i in range(n):  # again with the future links too
        future = False
        for k in range(start[i], end[i]):
            future = future or offset[k] > 0
        if future:
            refine(fa, i, -1, n if reach_b else n - 1, True)
    for i in range(n - m):
        back[i] = grid
    for i in range(n - 1, n - m - 1, -1):  # reverse display order, from b
        nxt = g if i == n - 1 else ba[i + 1]
        for p in range(h * w):
            q = 2 * p
            sample(nxt, g[q] - fl[i + 1, q], g[q + 1] - fl[i + 1, q + 1])
            ba[i, q], ba[i, q + 1] = two[0], two[1]
        refine(ba, i, i + 1, n, False)
