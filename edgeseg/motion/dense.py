"""Dense block-motion fields from raw motion vectors: per stride cell, displacement to the previous frame.

Usage: ``for frame, field in MotionFieldBuilder(stride=16).fields(open_source("clip.mp4")): ...``

The reference rule (B-frames, multi-reference; measured error in docs/MOTION.md): FFmpeg says only the
direction of a vector's reference (source -1 past / +1 future), so a vector is assumed to point at the nearest
anchor (I/P frame) in that direction, and motion is assumed linear in between:
- P-frame at display t, previous anchor at a0: d = m / (t - a0)  (t - a0 = 1 without B-frames);
- B-frame: past vectors give m / (t - a0), future vectors give -m / (a1 - t) (a1: next anchor); a cell with
  both averages them. B-frames are held back until their next anchor is decoded: latency = the B-run length
  (0 frames without B-frames, up to `bframes` frames with them).
Cells that no vector covers (intra blocks, uncovered areas), I-frames, the first frame and the frame after a
lost one are invalid. Frames whose codec exports no vectors (``mvs is None``) get their vectors from the
fallback estimator (``edgeseg.motion.estimate``), with the same semantics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.motion.field import MotionField
from edgeseg.source.frame import Frame

UNIT = 8  # smallest block FFmpeg exports (H.264 sub-8×8 partitions come out as 8×8)


def check_stride(stride: int) -> int:
    """Strides the builder supports: 4, 8 and multiples of 8 (16 default, 32 …)."""
    if stride not in (1, 2, 4) and (stride < UNIT or stride % UNIT):
        raise ConfigError(f"--stride {stride}: must be 1, 2, 4 or a multiple of 8")
    return int(stride)


def dense_field(mvs: np.ndarray | None, *, height: int, width: int, stride: int = 16,
                past_distance: float = 1.0, future_distance: float = 1.0,
                past_candidates=None, future_candidates=None, prior: MotionField | None = None) -> MotionField:
    """Raw vectors of one frame (N×10 int32, MV_COLUMNS) → MotionField (vectorised, no Python loop over blocks).

    past_distance / future_distance: display-order frames between this frame and the references of its
    source=-1 / source=+1 vectors; each vector contributes m / past_distance or -m / future_distance.
    past_candidates + prior (multi-reference streams): a past vector may instead use a farther candidate
    distance when that agrees decisively better with the prior field (the previous frame's) at its block.
    A cell's value is the mean over the 8×8 units it covers that carry a vector; valid where any does.
    """
    stride = check_stride(stride)
    uh, uw = -(-height // 16) * 2, -(-width // 16) * 2  # 8×8 units over the macroblock-padded frame
    sums = np.zeros((3, uh * uw), np.float64)
    if mvs is not None and len(mvs):
        mvs = mvs[mvs[:, 9] > 0]
        src, w, h = mvs[:, 0], mvs[:, 1] // UNIT, mvs[:, 2] // UNIT
        w = np.maximum(w, 1)
        h = np.maximum(h, 1)
        scale = mvs[:, 9].astype(np.float64)
        dist = np.where(src < 0, float(past_distance), float(future_distance))
        if prior is not None and past_candidates is not None and len(past_candidates) > 1:
            dist = _pick_distances(mvs, dist, np.asarray(past_candidates, np.float64), prior, -1)
        if prior is not None and future_candidates is not None and len(future_candidates) > 1:
            dist = _pick_distances(mvs, dist, np.asarray(future_candidates, np.float64), prior, 1)
        div = np.where(src < 0, dist, -dist) * scale
        vx, vy = mvs[:, 7] / div, mvs[:, 8] / div
        ux0 = (mvs[:, 5] - mvs[:, 1] // 2) // UNIT  # block top-left, in units
        uy0 = (mvs[:, 6] - mvs[:, 2] // 2) // UNIT
        n = w * h
        rep = np.repeat(np.arange(len(mvs)), n)
        k = np.arange(len(rep)) - np.repeat(np.cumsum(n) - n, n)
        ux = ux0[rep] + k % w[rep]
        uy = uy0[rep] + k // w[rep]
        keep = (ux >= 0) & (ux < uw) & (uy >= 0) & (uy < uh)
        flat = (uy * uw + ux)[keep]
        rep = rep[keep]
        size = uh * uw
        sums[0] = np.bincount(flat, vx[rep], size)
        sums[1] = np.bincount(flat, vy[rep], size)
        sums[2] = np.bincount(flat, None, size)
    sums = sums.reshape(3, uh, uw)
    gh, gw = -(-height // stride), -(-width // stride)
    if stride >= UNIT:
        f = stride // UNIT
        ph, pw = -(-uh // f) * f, -(-uw // f) * f
        if (ph, pw) != (uh, uw):
            sums = np.pad(sums, ((0, 0), (0, ph - uh), (0, pw - uw)))
        # per unit: the mean of its vectors, then per cell: the mean over its units that have any
        cnt = sums[2]
        has = cnt > 0
        unit_x = np.divide(sums[0], cnt, out=np.zeros_like(cnt), where=has)
        unit_y = np.divide(sums[1], cnt, out=np.zeros_like(cnt), where=has)
        if f > 1:
            n_units = has.reshape(ph // f, f, pw // f, f).sum(axis=(1, 3))
            sx = unit_x.reshape(ph // f, f, pw // f, f).sum(axis=(1, 3))
            sy = unit_y.reshape(ph // f, f, pw // f, f).sum(axis=(1, 3))
            valid = n_units > 0
            dx = np.divide(sx, n_units, out=np.zeros_like(sx), where=valid)
            dy = np.divide(sy, n_units, out=np.zeros_like(sy), where=valid)
        else:
            dx, dy, valid = unit_x, unit_y, has
    else:
        r = UNIT // stride
        cnt = sums[2]
        valid = cnt > 0
        dx = np.divide(sums[0], cnt, out=np.zeros_like(cnt), where=valid)
        dy = np.divide(sums[1], cnt, out=np.zeros_like(cnt), where=valid)
        dx, dy, valid = (np.repeat(np.repeat(a, r, 0), r, 1) for a in (dx, dy, valid))
    return MotionField(np.ascontiguousarray(dx[:gh, :gw], np.float32), np.ascontiguousarray(dy[:gh, :gw], np.float32),
                       np.ascontiguousarray(valid[:gh, :gw]), stride, height, width)


def _pick_distances(mvs: np.ndarray, past: np.ndarray, cands: np.ndarray, prior: MotionField,
                    direction: int) -> np.ndarray:
    """Per vector of one direction: the candidate distance whose velocity matches the prior clearly best."""
    sel = mvs[:, 0] == direction
    if not sel.any():
        return past
    v = mvs[sel]
    r = np.clip(v[:, 6] // prior.stride, 0, prior.dx.shape[0] - 1)
    c = np.clip(v[:, 5] // prior.stride, 0, prior.dx.shape[1] - 1)
    ok = prior.valid[r, c]
    px, py = prior.dx[r, c][:, None], prior.dy[r, c][:, None]
    mx = (v[:, 7] / v[:, 9])[:, None] / (cands[None, :] * -direction)
    my = (v[:, 8] / v[:, 9])[:, None] / (cands[None, :] * -direction)
    err = np.hypot(mx - px, my - py)
    best = err.argmin(axis=1)
    e_best = err[np.arange(len(v)), best]
    e_near = err[:, 0]
    take = ok & (e_near > 0.5) & (e_best < 0.5 * e_near)  # decisive only; else the nearest anchor
    out = past.copy()
    out[np.flatnonzero(sel)] = np.where(take, cands[best], past[sel])
    return out


class MotionFieldBuilder:
    """Frames in display order → (frame, MotionField to the previous displayed frame), every frame, in order.

    max_refs: reference frames a P vector may point back over (None: read from the source's H.264 SPS when
    ``fields`` gets a Source, else 1). With more than 1, a past vector is scaled by the distance to the
    anchor that makes it agree clearly best with the previous field (see dense_field), else the nearest.
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
        refs = self.max_refs or getattr(info, "max_refs", None) or 1
        s = self.stride
        anchors: list[int] = []  # display indices of recent I/P frames, newest last
        prior = None  # the last field computed (the previous frame's, in display order)
        prev_index = prev_size = None
        pending: list[Frame] = []  # B-frames waiting for their future anchor

        def compute(frame: Frame, future: int) -> MotionField:
            nonlocal prior
            near = frame.index - anchors[-1] if anchors else 1
            far = frame.index - anchors[-refs:][0] if anchors else near
            past = [near] + [d for d in range(1, far + 1) if d != near]
            fut = [future] + [d for d in range(1, future) if d != future]
            multi = refs > 1
            fld = dense_field(frame.mvs, height=frame.height, width=frame.width, stride=s,
                              past_distance=near, future_distance=future, prior=prior,
                              past_candidates=past if multi else None, future_candidates=fut if multi else None)
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
            anchors = (anchors + [frame.index])[-16:]
        yield from flush(None)
