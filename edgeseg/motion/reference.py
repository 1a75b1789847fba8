"""Which frame each motion vector points to, identified from the decoded pixels.

Usage::

    history = LumaHistory()
    history.add(frame)                                     # every frame, in display order
    dist, changed = history.identify(frame.index, mvs, dist, past=[1, 2, 4], future=[1, 2])

FFmpeg exports only a vector's list (source −1 past, +1 future), not its reference frame. In B-frame streams
(x264's default B-pyramid makes the middle B of a run a reference) and multi-reference streams a vector may
point 1, 2, 3 … frames away, and dividing it by the wrong distance gives the wrong velocity. So each vector's
block is compared (mean absolute luma difference over a 3×3 sample of its pixels) with the block it points at
(bilinear at the vector's sub-pixel position) in the frame at its assumed distance; where that differs by
GATE grey levels or more, also in every other decoded frame within reach in its direction, and the vector
takes the distance of the frame that matches clearly best (at most SWITCH of the assumed frame's difference
and at least MARGIN grey levels less). Whatever the encoder's own reference was, the distance picked is one at
which the block's content is found: that is the motion the fields need. Vectors so short that no distance
changes their velocity by MOVE pixels per frame are left alone (zero vectors, most of a still scene). To bound
the cost, every PROBE-th vector compares every frame within reach and the others only the frames that at least
PRUNE of those chose (a B-pyramid points most of a direction's vectors at one or two frames). Frames with
more than BUDGET vectors (720p and up) go further: each other vector compares its assumed frame only with the
frame the last probed vector of its direction before it chose (its neighbour in raster order), and not at all
where that neighbour kept the assumed frame.
One numba kernel with a NumPy twin of the same arithmetic; tests keep them equal.
"""

from __future__ import annotations

import functools

import numpy as np

from edgeseg.system.jit import compiled

SAMPLES = 3  # per side of a block: 9 pixels compared per vector and frame
GATE = 1.0  # vectors whose assumed frame matches this well (grey levels) keep it without looking further
SWITCH = 0.75  # a frame replaces the assumed one when its difference is at most this share of the assumed one's
MARGIN = 0.5  # … and at least this many grey levels lower
REACH = 16  # display-order frames kept: the farthest a vector's frame may lie
HALVE_ABOVE = 1280  # wider frames are compared on every other row and column (a quarter of the memory)
PROBE = 8  # every PROBE-th vector compares every frame within reach; the others only the frames those chose …
PRUNE = 0.05  # … for at least this share of them
BUDGET = 4000  # frames with more vectors (720p and up) compare fewer frames: see the module docstring
MOVE = 0.25  # vectors whose velocity changes by less (pixels per frame) whatever the distance are left alone


def luma(frame) -> np.ndarray | None:
    """The frame's luma plane (H, W) uint8 (a view of the decoder's), or None when the source gives no planes."""
    planes = frame.yuv420()
    return None if planes is None else planes[0]


class LumaHistory:
    """The luma planes of the last REACH + 1 frames (display order), copied into one ring of planes."""

    def __init__(self):
        self._ring: np.ndarray | None = None
        self._slot: dict[int, int] = {}  # display index → ring slot
        self.scale = 1  # the planes kept are every scale-th row and column of the frame's

    def clear(self) -> None:
        self._slot.clear()

    def add(self, frame) -> bool:
        """Copy the frame's luma in (the decoder reuses its buffers); False where the source gives none."""
        y = luma(frame)
        if y is None:
            return False
        self.scale = 2 if y.shape[1] > HALVE_ABOVE else 1
        y = y[::self.scale, ::self.scale]
        if self._ring is None or self._ring.shape[1:] != y.shape:
            self._ring, self._slot = np.empty((REACH + 1, *y.shape), np.uint8), {}
        slot = frame.index % (REACH + 1)
        self._slot = {i: s for i, s in self._slot.items() if s != slot and i > frame.index - REACH - 1}
        self._ring[slot] = y
        self._slot[frame.index] = slot
        return True

    def has(self, index: int) -> bool:
        return index in self._slot

    def identify(self, index: int, mvs: np.ndarray, dist: np.ndarray, *, past, future) -> tuple[np.ndarray, int]:
        """Per vector of frame `index` (motion scale > 0), the distance to the frame its block is found in:
        `dist` (assumed, float64) where that matches, else the best of `past` / `future` (distances of the
        frames within reach). Returns the distances (a new array) and how many changed."""
        out = np.array(dist, np.float64)
        if index not in self._slot:
            return out, 0
        cands = []
        for direction, ks in ((-1, past), (1, future)):
            ks = [k for k in sorted(set(ks)) if self.has(index + direction * k)]
            cands.append((np.array(ks, np.int64), np.array([self._slot[index + direction * k] for k in ks], np.int64)))
        (pk, ps), (fk, fs) = cands
        if len(pk) < 2 and len(fk) < 2:
            return out, 0
        cur = self._ring[self._slot[index]]
        sparse = len(mvs) > BUDGET
        kernel = _kernel()
        if kernel is not None:
            return out, int(kernel(mvs, cur, self._ring, pk, ps, fk, fs, out, SAMPLES, GATE, SWITCH, MARGIN, MOVE,
                                   self.scale, PROBE, PRUNE, sparse))
        return out, _identify_numpy(mvs, cur, self._ring, (pk, ps), (fk, fs), out, self.scale, sparse)


def _kernel():
    """The compiled _identify_into (its helpers made callable from it first), or None (edgeseg.system.jit)."""
    kernel = compiled(_identify_into)
    if kernel is not None:
        _register_helpers()
    return kernel


@functools.cache
def _register_helpers() -> None:
    from numba.extending import register_jitable

    register_jitable(_positions)
    register_jitable(_difference)


def block_differences(mvs: np.ndarray, cur: np.ndarray, ref: np.ndarray, scale: int = 1) -> np.ndarray:
    """(N,) float64: per vector, the mean absolute luma difference between its block in `cur` and the block its
    motion points at in `ref` (sampled SAMPLES × SAMPLES, the reference bilinear, edges extended as in H.264);
    scale: the planes are every scale-th row and column of the frame's."""
    v = mvs.astype(np.int64)
    if not len(v):
        return np.zeros(0)
    h, w = cur.shape
    x0, y0 = v[:, 5] - (v[:, 1] >> 1), v[:, 6] - (v[:, 2] >> 1)
    xs = x0[:, None] + ((2 * np.arange(SAMPLES) + 1) * v[:, 1:2]) // (2 * SAMPLES)  # (n, S)
    ys = y0[:, None] + ((2 * np.arange(SAMPLES) + 1) * v[:, 2:3]) // (2 * SAMPLES)
    a = cur[np.clip(ys // scale, 0, h - 1)[:, :, None], np.clip(xs // scale, 0, w - 1)[:, None, :]].astype(np.float64)
    fx, fy = (xs + (v[:, 7] / v[:, 9])[:, None]) / scale, (ys + (v[:, 8] / v[:, 9])[:, None]) / scale
    ix, iy = np.floor(fx), np.floor(fy)
    ax, ay = (fx - ix)[:, None, :], (fy - iy)[:, :, None]
    ix, iy = ix.astype(np.int64), iy.astype(np.int64)
    x_lo, x_hi = np.clip(ix, 0, w - 1)[:, None, :], np.clip(ix + 1, 0, w - 1)[:, None, :]
    y_lo, y_hi = np.clip(iy, 0, h - 1)[:, :, None], np.clip(iy + 1, 0, h - 1)[:, :, None]
    top = ref[y_lo, x_lo] * (1 - ax) + ref[y_lo, x_hi] * ax
    bottom = ref[y_hi, x_lo] * (1 - ax) + ref[y_hi, x_hi] * ax
    d = np.abs(a - (top * (1 - ay) + bottom * ay)).reshape(len(v), -1)
    acc = np.zeros(len(v))
    for k in range(d.shape[1]):  # summed in the kernel's order: the two paths agree to the bit
        acc += d[:, k]
    return acc / (SAMPLES * SAMPLES)


def _allowed(wins: np.ndarray, probed: int) -> np.ndarray:
    """The frames a direction's other vectors compare: those that PRUNE of the probed vectors chose (all where
    too few were probed to tell)."""
    if probed < PROBE:
        return np.ones(len(wins), bool)
    return wins >= max(1.0, PRUNE * probed)


def _pick(mvs, cur, ring, ks, slots, mine, at, assumed, allowed, scale) -> np.ndarray:
    """The frame (index into ks) each of the vectors `mine` takes: the best allowed one in ascending distance
    where it beats the assumed one (`at`, difference `assumed`) clearly, else `at`."""
    best, low = at.copy(), assumed.copy()
    for j in np.flatnonzero(allowed):  # in ascending distance: ties keep the nearer frame
        diff = block_differences(mvs[mine], cur, ring[slots[j]], scale)
        better = (diff < low) & (at != j)
        best[better], low[better] = j, diff[better]
    return np.where((best != at) & (low <= SWITCH * assumed) & (low <= assumed - MARGIN), best, at)


def _identify_numpy(mvs, cur, ring, past, future, dist, scale, sparse) -> int:
    """LumaHistory.identify's rule as whole-array passes (without numba); writes dist, returns the changes."""
    changed = 0
    for direction, (ks, slots) in ((-1, past), (1, future)):
        if len(ks) < 2:
            continue
        length2 = mvs[:, 7].astype(np.float64) ** 2 + mvs[:, 8].astype(np.float64) ** 2
        moves = length2 * (1.0 / ks[0] - 1.0 / ks[-1]) ** 2 >= (MOVE * mvs[:, 9].astype(np.float64)) ** 2
        mine = np.flatnonzero((mvs[:, 0] == direction) & moves)
        where = np.searchsorted(ks, dist[mine])
        at = np.minimum(where, len(ks) - 1)
        mine, at = mine[ks[at] == dist[mine]], at[ks[at] == dist[mine]]  # assumed frame within reach
        if not len(mine):
            continue
        assumed = np.full(len(mine), np.inf)
        needed = (mine % PROBE == 0) | (not sparse)  # sparse: the others below, where their neighbour differs
        for j in range(len(ks)):
            sel = (at == j) & needed
            if sel.any():
                assumed[sel] = block_differences(mvs[mine[sel]], cur, ring[slots[j]], scale)
        probe = mine % PROBE == 0
        look = assumed >= GATE
        choice = at.copy()  # gated-out vectors keep their assumed frame
        sel = probe & look
        choice[sel] = _pick(mvs, cur, ring, ks, slots, mine[sel], at[sel], assumed[sel], np.ones(len(ks), bool),
                            scale)
        rest = ~probe
        if sparse:  # the other vectors compare their assumed frame with the last probed vector's before them only
            before = np.searchsorted(mine[probe], mine[rest]) - 1
            last = np.where(before >= 0, choice[probe][np.maximum(before, 0)], at[rest]) if probe.any() else at[rest]
            sel = np.flatnonzero(rest)[last != at[rest]]
            only = last[last != at[rest]]
            for j in range(len(ks)):  # the assumed frames' differences, then the other frame's
                k = at[sel] == j
                if k.any():
                    assumed[sel[k]] = block_differences(mvs[mine[sel[k]]], cur, ring[slots[j]], scale)
            other = np.full(len(sel), np.inf)
            for j in range(len(ks)):
                k = (only == j) & (assumed[sel] >= GATE)
                if k.any():
                    other[k] = block_differences(mvs[mine[sel[k]]], cur, ring[slots[j]], scale)
            a = assumed[sel]
            choice[sel] = np.where((other < a) & (other <= SWITCH * a) & (other <= a - MARGIN), only, at[sel])
        else:
            allowed = _allowed(np.bincount(choice[sel], minlength=len(ks)), int(sel.sum()))
            sel = rest & look
            choice[sel] = _pick(mvs, cur, ring, ks, slots, mine[sel], at[sel], assumed[sel], allowed, scale)
        switch = choice != at
        dist[mine[switch]] = ks[choice[switch]]
        changed += int(switch.sum())
    return changed


def _positions(mvs, i, samples, scale, cur, a, ylo, yhi, xlo, xhi, wx, wy):
    """Vector i's sample points (block_differences' arithmetic): its block's pixels into a, the bilinear taps
    and weights of the points its motion leads to (the same in every frame) into the other arrays."""
    h, w = cur.shape
    bw, bh = np.int64(mvs[i, 1]), np.int64(mvs[i, 2])
    x0, y0 = np.int64(mvs[i, 5]) - (bw >> 1), np.int64(mvs[i, 6]) - (bh >> 1)
    mx, my = mvs[i, 7] / mvs[i, 9], mvs[i, 8] / mvs[i, 9]
    for r in range(samples):
        y = y0 + ((2 * r + 1) * bh) // (2 * samples)
        fy = (y + my) / scale
        iy = np.floor(fy)
        cy = min(max(y // scale, 0), h - 1)
        for c in range(samples):
            q, x = r * samples + c, x0 + ((2 * c + 1) * bw) // (2 * samples)
            fx = (x + mx) / scale
            ix = np.floor(fx)
            a[q] = np.float64(cur[cy, min(max(x // scale, 0), w - 1)])
            ylo[q], yhi[q] = min(max(np.int64(iy), 0), h - 1), min(max(np.int64(iy) + 1, 0), h - 1)
            xlo[q], xhi[q] = min(max(np.int64(ix), 0), w - 1), min(max(np.int64(ix) + 1, 0), w - 1)
            wx[q], wy[q] = fx - ix, fy - iy


def _difference(ref, a, ylo, yhi, xlo, xhi, wx, wy):
    """Mean absolute difference of the sample points in one frame (block_differences' sum order)."""
    acc = 0.0
    for q in range(a.shape[0]):
        ax, ay = wx[q], wy[q]
        top = np.float64(ref[ylo[q], xlo[q]]) * (1 - ax) + np.float64(ref[ylo[q], xhi[q]]) * ax
        bottom = np.float64(ref[yhi[q], xlo[q]]) * (1 - ax) + np.float64(ref[yhi[q], xhi[q]]) * ax
        acc += abs(a[q] - (top * (1 - ay) + bottom * ay))
    return acc / a.shape[0]


def _identify_into(mvs, cur, ring, pk, ps, fk, fs, dist, samples, gate, switch, margin, move, scale, probe, prune,
                   sparse):
    """numba kernel of LumaHistory.identify: the probed vectors (every probe-th) first, then the others in order;
    per vector its assumed frame first, then the allowed others in ascending distance. sparse: the others take
    compare their assumed frame only with the frame the last probed vector of their direction before them chose."""
    ns = samples * samples
    a, wx, wy = np.empty(ns), np.empty(ns), np.empty(ns)
    ylo, yhi, xlo, xhi = np.empty(ns, np.int64), np.empty(ns, np.int64), np.empty(ns, np.int64), np.empty(ns, np.int64)
    wins = np.zeros((2, max(pk.shape[0], fk.shape[0])), np.int64)  # per direction (past, future), per frame
    probed, last = np.zeros(2, np.int64), np.full(2, -1, np.int64)
    allowed = np.ones((2, wins.shape[1]), np.bool_)
    choice = np.full(mvs.shape[0], -1, np.int64)  # each probed vector's frame (index into its ks)
    changed = 0
    for stage in range(2):
        for d in range(2 if stage == 1 and probed.max() >= probe else 0):  # PRUNE, after the probe
            for j in range(wins.shape[1]):
                allowed[d, j] = probed[d] < probe or wins[d, j] >= max(1.0, prune * probed[d])
        for i in range(mvs.shape[0]):
            d = 0 if mvs[i, 0] < 0 else 1
            if i % probe == 0 and stage == 1:
                last[d] = choice[i] if choice[i] >= 0 else last[d]
            if (i % probe == 0) != (stage == 0):
                continue
            ks, slots = (pk, ps) if d == 0 else (fk, fs)
            n, at = ks.shape[0], -1
            for j in range(n):
                if ks[j] == dist[i]:
                    at = j
            if n < 2 or at < 0:
                continue
            if not (np.float64(mvs[i, 7]) ** 2 + np.float64(mvs[i, 8]) ** 2) * (1.0 / ks[0] - 1.0 / ks[n - 1]) ** 2 \
                    >= (move * np.float64(mvs[i, 9])) ** 2:  # MOVE: no distance changes its velocity enough
                continue
            best, only = at, (last[d] if stage == 1 and sparse else -1)
            if stage == 1 and sparse and (only < 0 or only == at):
                continue  # the probed neighbour found the assumed frame (or there is none): no comparison
            _positions(mvs, i, samples, scale, cur, a, ylo, yhi, xlo, xhi, wx, wy)
            assumed = low = _difference(ring[slots[at]], a, ylo, yhi, xlo, xhi, wx, wy)
            for j in range(n if assumed >= gate else 0):
                if j != at and (j == only if only >= 0 else allowed[d, j]):
                    diff = _difference(ring[slots[j]], a, ylo, yhi, xlo, xhi, wx, wy)
                    if diff < low:
                        best, low = j, diff
            if not (low <= switch * assumed and low <= assumed - margin):
                best = at
            if stage == 0:
                choice[i] = best
                if assumed >= gate:
                    wins[d, best] += 1
                    probed[d] += 1
            if best != at:
                dist[i] = ks[best]
                changed += 1
    return changed
