"""Dense block-motion fields from raw motion vectors: per stride cell, displacement to the previous frame.

Usage: ``for frame, field in MotionFieldBuilder(stride=16).fields(open_source("clip.mp4")): ...``

The reference rule (B-frames, multi-reference; measured error in docs/MOTION.md): FFmpeg says only the
direction of a vector's reference (source -1 past / +1 future), not which frame it is, so motion is assumed
linear and each vector is divided by an assumed distance:
- by default the nearest anchor (I/P frame) in its direction: a P-frame at display t with previous anchor a0
  gives d = m / (t - a0) (= m without B-frames); a B-frame's past vectors give m / (t - a0), its future ones
  -m / (a1 - t) (a1: next anchor); a cell with both averages them;
- multi-reference streams (SPS max_num_ref_frames > 1, or max_refs): a vector instead takes the whole
  distance k (up to the oldest usable anchor / next anchor) whose velocity m / k agrees decisively better with
  the previous frame's field at its block (error > 0.5 px and at least halved), which catches vectors that
  point 2+ frames back or at a B reference frame.
B-frames are held back until their next anchor is decoded: added latency = the B-run length (0 frames
without B-frames, up to `bframes` frames with them).
Cells that no vector covers (intra blocks, uncovered areas), I-frames, the first frame and the frame after a
lost one are invalid. Frames whose codec exports no vectors (``mvs is None``) get their vectors from the
fallback estimator (``edgeseg.motion.estimate``), with the same semantics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.limits import check_motion_stride
from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame
from edgeseg.system.jit import compiled

UNIT = 8  # smallest block FFmpeg exports (H.264 sub-8×8 partitions come out as 8×8)


def check_stride(stride: int) -> int:
    """Strides the builder supports (edgeseg.limits.MOTION_STRIDES): whole 8×8 units or whole macroblocks."""
    return check_motion_stride("motion stride", stride)


_OX = np.array([0, 1, 0, 1])  # the 8×8 units a block of up to 16×16 covers, relative to its top-left unit
_OY = np.array([0, 0, 1, 1])


def dense_field(mvs: np.ndarray | None, *, height: int, width: int, stride: int = 16,
                past_distance: float = 1.0, future_distance: float = 1.0, max_past: int = 1,
                max_future: int = 1, prior: MotionField | None = None) -> MotionField:
    """Raw vectors of one frame (N×10 int32, MV_COLUMNS) → MotionField (vectorised, no Python loop over blocks).

    past_distance / future_distance: display-order frames between this frame and the references of its
    source=-1 / source=+1 vectors; each vector contributes m / past_distance or -m / future_distance.
    max_past / max_future + prior (multi-reference streams): a vector may instead be scaled by another whole
    distance up to max_past / max_future when that agrees decisively better with the prior field (the previous
    frame's) at its block (see _pick_distances).
    A cell's value is the area-weighted mean of the vectors of the blocks in it (at strides below 16: the
    mean of the vectors over each 8×8 unit); valid where any vector covers it, invalid (0) elsewhere.
    """
    stride = check_stride(stride)
    mh, mw = -(-height // 16), -(-width // 16)  # macroblocks; 8×8 units: (2 mh, 2 mw)
    if mvs is not None and len(mvs) and not (mvs[:, 9] > 0).all():
        mvs = mvs[mvs[:, 9] > 0]
    if mvs is None or not len(mvs):
        return MotionField.empty(height, width, stride)
    dist = np.where(mvs[:, 0] < 0, float(past_distance), float(future_distance))
    if prior is not None:
        if max_past > 1:
            dist = _pick_distances(mvs, dist, max_past, prior, -1)
        if max_future > 1:
            dist = _pick_distances(mvs, dist, max_future, prior, 1)
    if stride >= 16:  # per macroblock (blocks never straddle one), area-weighted; then pooled
        dx, dy, valid = _pool(*_macroblock_cells(mvs, dist, mh, mw), stride // 16)
    else:  # per 8×8 unit
        div = np.where(mvs[:, 0] < 0, dist, -dist) * mvs[:, 9]
        bw, bh = mvs[:, 1], mvs[:, 2]
        x0, y0 = mvs[:, 5] - (bw >> 1), mvs[:, 6] - (bh >> 1)  # block top-left (dst is the block centre)
        aligned = (bw == 16) & (bh == 16) & (((x0 | y0) & 15) == 0)
        sums = _accumulate(mvs, div, x0, y0, aligned, mh, mw)
        cnt = sums[2]
        has = cnt > 0
        unit_x = np.divide(sums[0], cnt, out=np.zeros_like(cnt), where=has)
        unit_y = np.divide(sums[1], cnt, out=np.zeros_like(cnt), where=has)
        if stride == UNIT:
            dx, dy, valid = unit_x, unit_y, has
        else:
            r = UNIT // stride
            dx, dy, valid = (np.repeat(np.repeat(a, r, 0), r, 1) for a in (unit_x, unit_y, has))
    gh, gw = -(-height // stride), -(-width // stride)
    return MotionField(np.ascontiguousarray(dx[:gh, :gw], np.float32),
                       np.ascontiguousarray(dy[:gh, :gw], np.float32),
                       np.ascontiguousarray(valid[:gh, :gw]), stride, height, width)


def _macroblock_cells(mvs: np.ndarray, dist: np.ndarray, mh: int, mw: int):
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
    """_macroblock_cells as whole-array passes (without numba)."""
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
    """numba kernel of _macroblock_cells: the same sums, accumulated in the same (vector) order, then divided."""
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


def _pool(x: np.ndarray, y: np.ndarray, has: np.ndarray, f: int):
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


def _accumulate(mvs: np.ndarray, div: np.ndarray, x0, y0, aligned, mh: int, mw: int) -> np.ndarray:
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


def _pick_distances(mvs: np.ndarray, dist: np.ndarray, kmax: int, prior: MotionField, direction: int) -> np.ndarray:
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
    """_pick_distances as whole-array passes (without numba)."""
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


class MotionFieldBuilder:
    """Frames in display order → (frame, MotionField to the previous displayed frame), every frame, in order.

    max_refs: reference frames a vector may point back over (None: the stream's H.264 SPS value, from
    ``Source.info`` or the frames' ``meta["max_refs"]``, else 1). Above 1, a vector may take the distance
    that agrees decisively better with the previous field (see dense_field), else the nearest anchor's.
    fallback: estimator for frames with ``mvs is None`` ("x264": re-encode with libx264 and read its vectors
    back, see edgeseg.motion.estimate; None: give such frames invalid fields).
    """

    def __init__(self, *, stride: int = 16, max_refs: int | None = None, fallback: str | None = "x264"):
        self.stride = check_stride(stride)
        if fallback not in ("x264", None):
            raise ConfigError(f"motion fallback {fallback!r}: must be 'x264' or None")
        self.fallback, self.max_refs = fallback, max_refs
        self._estimator = None

    def _estimate(self, frame: Frame) -> np.ndarray | None:
        if self.fallback is None:
            return None
        if self._estimator is None:
            from edgeseg.motion.estimate import X264Estimator

            self._estimator = X264Estimator()
        return self._estimator.vectors(frame.image)

    def fields(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, MotionField]]:
        """Yield every frame with its field (display order); B-frames wait for their next anchor."""
        info = getattr(frames, "info", None)
        refs = self.max_refs or getattr(info, "max_refs", None) or 0  # else from the first frame's meta
        s = self.stride
        anchors: list[int] = []  # display indices of recent I/P frames, newest last
        prior = None  # the last field computed (the previous frame's, in display order)
        prev_index = prev_size = None
        pending: list[Frame] = []  # B-frames waiting for their future anchor

        def compute(frame: Frame, future: int) -> MotionField:
            nonlocal prior
            near = frame.index - anchors[-1] if anchors else 1
            far = frame.index - anchors[-refs:][0] if anchors else near
            multi = refs > 1
            fld = dense_field(frame.mvs, height=frame.height, width=frame.width, stride=s,
                              past_distance=near, future_distance=future, prior=prior,
                              max_past=far if multi else 1, max_future=future if multi else 1)
            prior = fld
            return fld

        def flush(next_anchor: int | None) -> list:
            out = []
            for b in pending:
                a1 = next_anchor if next_anchor is not None else pending[-1].index + 1
                out.append((b, compute(b, a1 - b.index)))
            pending.clear()
            return out

        def empty(frame: Frame) -> MotionField:
            nonlocal prior
            prior = None
            return MotionField.empty(frame.height, frame.width, s)

        for frame in frames:
            if not refs:
                refs = frame.meta.get("max_refs") or 1
            size = (frame.height, frame.width)
            broken = prev_index is None or frame.index != prev_index + 1 or size != prev_size
            prev_index, prev_size = frame.index, size
            if frame.mvs is None:  # codec without vectors: estimated vectors to the previous frame
                yield from flush(None)
                mvs = self._estimate(frame)
                if broken or mvs is None:
                    yield frame, empty(frame)
                else:
                    prior = dense_field(mvs, height=frame.height, width=frame.width, stride=s)
                    yield frame, prior
                anchors = [frame.index]
                continue
            if broken:
                yield from flush(None)
                anchors = [] if frame.pict_type == "B" else [frame.index]
                yield frame, empty(frame)
                continue
            if frame.pict_type == "B":
                pending.append(frame)
                continue
            done = flush(frame.index)
            fld = empty(frame) if frame.pict_type == "I" else compute(frame, 1)
            yield from done
            yield frame, fld
            # no vector after a key I-frame (IDR) points across it: its anchors are the only distances then
            anchors = [frame.index] if frame.meta.get("key") else (anchors + [frame.index])[-16:]
        yield from flush(None)
