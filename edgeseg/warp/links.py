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
Host and device alike: plain warps of the position maps (NumPy or CuPy).
"""

from __future__ import annotations

from edgeseg.warp.bilinear import array_module, warp


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


def linked_positions(grid, disps: list, disp_b, links: list, m: int):
    """Where the gap's held frames' cells lie in keyframe a (forward) and in keyframe b (back: the last m frames;
    the others keep grid), as gap_positions gives them, but following each frame's links.

    disps: the n held frames' displacements to their predecessors on the warp grid (None: none); disp_b:
    keyframe b's; links: per held frame, (offset, disp, valid) on the warp grid (WarpSpace.links).
    """
    xp = array_module(grid)
    n = len(disps)
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

