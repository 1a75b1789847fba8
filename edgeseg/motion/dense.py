"""Dense block-motion fields from raw motion vectors: per stride cell, displacement to the previous frame.

Usage: ``for frame, field in MotionFieldBuilder(stride=16).fields(open_source("clip.mp4")): ...``

The reference rule (B-frames, multi-reference; measured error in docs/MOTION.md): FFmpeg says only the
direction of a vector's reference (source -1 past / +1 future), not which frame it is. Motion is assumed
linear over that distance, so each vector is divided by it:
- where the decoder's pixels are at hand (every PyAV source), each vector's frame is identified from them:
  the frame within reach in its direction where its block is found clearly best (edgeseg.motion.reference).
  That catches B-pyramid references (the middle B of a run), vectors 2+ frames back and P-frames that
  reference a B. Cost at 1080p: see docs/RESULTS.md;
- otherwise, the nearest anchor (I/P frame) in its direction: a P-frame at display t with previous anchor a0
  gives d = m / (t - a0) (= m without B-frames); a B-frame's past vectors give m / (t - a0), its future ones
  -m / (a1 - t) (a1: next anchor); and in multi-reference streams (SPS max_num_ref_frames > 1, or max_refs) a
  vector takes the whole distance k whose velocity m / k agrees decisively better with the previous frame's
  field at its block (error > 0.5 px and at least halved).
A cell with several vectors (bi-prediction) averages them. A B-frame cell whose vectors are all zero says
nothing about motion (encoders bi-predict slow motion from the average of two unmoved references: zero is a
good predictor whatever the motion), so it takes the mean motion of the previous frame and the next anchor
there.
B-frames are held back until their next anchor is decoded: added latency = the B-run length (0 frames
without B-frames, up to `bframes` frames with them).
Cells that no vector covers (intra blocks, uncovered areas), I-frames, the first frame and the frame after a
lost one are invalid. Frames whose codec exports no vectors (``mvs is None``) get their vectors from the
fallback estimator (``edgeseg.motion.estimate``), with the same semantics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.limits import check_motion_stride
from edgeseg.motion.cells import accumulate, macroblock_cells, pool
from edgeseg.motion.field import MotionField
from edgeseg.motion.prior import pick_distances
from edgeseg.motion.reference import REACH, LumaHistory
from edgeseg.source.frame import Frame

UNIT = 8  # smallest block FFmpeg exports (H.264 sub-8×8 partitions come out as 8×8)


def check_stride(stride: int) -> int:
    """Strides the builder supports (edgeseg.limits.MOTION_STRIDES): whole 8×8 units or whole macroblocks."""
    return check_motion_stride("motion stride", stride)


def dense_field(mvs: np.ndarray | None, *, height: int, width: int, stride: int = 16,
                past_distance: float = 1.0, future_distance: float = 1.0, max_past: int = 1,
                max_future: int = 1, prior: MotionField | None = None,
                distances: np.ndarray | None = None) -> MotionField:
    """Raw vectors of one frame (N×10 int32, MV_COLUMNS) → MotionField (vectorised, no Python loop over blocks).

    past_distance / future_distance: display-order frames between this frame and the references of its
    source=-1 / source=+1 vectors; each vector contributes m / past_distance or -m / future_distance.
    max_past / max_future + prior (multi-reference streams): a vector may instead be scaled by another whole
    distance up to max_past / max_future when that agrees decisively better with the prior field (the previous
    frame's) at its block (see edgeseg.motion.prior).
    A cell's value is the area-weighted mean of the vectors of the blocks in it (at strides below 16: the
    mean of the vectors over each 8×8 unit); valid where any vector covers it, invalid (0) elsewhere.
    """
    stride = check_stride(stride)
    mh, mw = -(-height // 16), -(-width // 16)  # macroblocks; 8×8 units: (2 mh, 2 mw)
    if mvs is not None and len(mvs) and not (mvs[:, 9] > 0).all():
        keep = mvs[:, 9] > 0
        mvs, distances = mvs[keep], None if distances is None else distances[keep]
    if mvs is None or not len(mvs):
        return MotionField.empty(height, width, stride)
    if distances is not None:
        dist = distances
    else:
        dist = np.where(mvs[:, 0] < 0, float(past_distance), float(future_distance))
    if distances is None and prior is not None:
        if max_past > 1:
            dist = pick_distances(mvs, dist, max_past, prior, -1)
        if max_future > 1:
            dist = pick_distances(mvs, dist, max_future, prior, 1)
    if stride >= 16:  # per macroblock (blocks never straddle one), area-weighted; then pooled
        dx, dy, valid = pool(*macroblock_cells(mvs, dist, mh, mw), stride // 16)
    else:  # per 8×8 unit
        div = np.where(mvs[:, 0] < 0, dist, -dist) * mvs[:, 9]
        bw, bh = mvs[:, 1], mvs[:, 2]
        x0, y0 = mvs[:, 5] - (bw >> 1), mvs[:, 6] - (bh >> 1)  # block top-left (dst is the block centre)
        aligned = (bw == 16) & (bh == 16) & (((x0 | y0) & 15) == 0)
        sums = accumulate(mvs, div, x0, y0, aligned, mh, mw)
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


def _borrow_still(fld: MotionField, mvs: np.ndarray, around: list) -> MotionField:
    """B-frame cells whose vectors are all zero take the mean motion of the fields `around` it (the previous
    frame's, the next anchor's) where those are valid (see the module docstring)."""
    if not around or not ((mvs[:, 7] == 0) & (mvs[:, 8] == 0)).any():  # no zero vector: no still cell
        return fld
    moving = mvs.copy()
    moving[:, 7] = np.abs(mvs[:, 7]) + np.abs(mvs[:, 8])
    moving[:, 8] = 0
    moving[:, 0] = -1
    magnitude = dense_field(moving, height=fld.height, width=fld.width, stride=fld.stride)
    count = sum(f.valid.astype(np.float32) for f in around)
    still = fld.valid & (magnitude.dx == 0) & (count > 0)
    if not still.any():
        return fld
    sx = sum(np.where(f.valid, f.dx, 0) for f in around)
    sy = sum(np.where(f.valid, f.dy, 0) for f in around)
    dx, dy = fld.dx.copy(), fld.dy.copy()
    dx[still], dy[still] = sx[still] / count[still], sy[still] / count[still]
    return MotionField(dx, dy, fld.valid, fld.stride, fld.height, fld.width)


@dataclass
class _Stream:
    """One stream's state in MotionFieldBuilder.fields."""

    refs: int  # reference frames a vector may point back over (0: not known yet)
    anchors: list = field(default_factory=list)  # display indices of recent I/P frames, newest last
    prior: MotionField | None = None  # the last field computed (the previous frame's, in display order)
    pending: list = field(default_factory=list)  # B-frames waiting for their future anchor


class MotionFieldBuilder:
    """Frames in display order → (frame, MotionField to the previous displayed frame), every frame, in order.

    max_refs: reference frames a vector may point back over (None: the stream's H.264 SPS value, from
    ``Source.info`` or the frames' ``meta["max_refs"]``, else 1). Above 1, a vector may take the distance
    that agrees decisively better with the previous field (see dense_field), else the nearest anchor's.
    fallback: estimator for frames with ``mvs is None`` ("x264": re-encode with libx264 and read its vectors
    back, see edgeseg.motion.estimate; None: give such frames invalid fields).
    identify: identify each vector's frame from the decoded pixels where the source gives them (see the
    module docstring); False: the nearest-anchor rule only. ``identified`` counts the vectors it moved to
    another frame than that rule's.
    """

    def __init__(self, *, stride: int = 16, max_refs: int | None = None, fallback: str | None = "x264",
                 identify: bool = True):
        self.stride = check_stride(stride)
        if fallback not in ("x264", None):
            raise ConfigError(f"motion fallback {fallback!r}: must be 'x264' or None")
        self.fallback, self.max_refs = fallback, max_refs
        self._estimator = None
        self._history = LumaHistory() if identify else None
        self.identified = 0  # vectors whose frame the pixels changed (edgeseg.motion.reference)

    def _estimate(self, frame: Frame) -> np.ndarray | None:
        if self.fallback is None:
            return None
        if self._estimator is None:
            from edgeseg.motion.estimate import X264Estimator

            self._estimator = X264Estimator()
        return self._estimator.vectors(frame.image)

    def _distances(self, frame: Frame, mvs: np.ndarray, near: int, future: int, usable: list[int]):
        """The vectors' distances identified from the pixels (edgeseg.motion.reference), or None where one frame
        is within reach in each direction (nothing to identify) or the pixels are missing. Past: the usable
        anchors and every frame since the last one (B-pyramid references); future: every frame up to the next
        anchor. Where there was something to identify, frame.meta["refs"] says how: "pixels" or "assumed"."""
        t = frame.index
        past = [t - a for a in usable if t - a <= REACH] + list(range(1, near))
        if self._history is None or (len(set(past)) < 2 and future < 2):
            return None
        if not self._history.has(t):
            frame.meta["refs"] = "assumed"
            return None
        frame.meta["refs"] = "pixels"
        dist = np.where(mvs[:, 0] < 0, float(near), float(future))
        dist, changed = self._history.identify(t, mvs, dist, past=past, future=range(1, future + 1))
        self.identified += changed
        return dist

    def _compute(self, st: _Stream, frame: Frame, future: int, after: MotionField | None = None) -> MotionField:
        """The field of a P- or B-frame (future: display distance to its next anchor; after: that anchor's field,
        which a B-frame's still cells borrow); it becomes st.prior."""
        anchors, refs = st.anchors, st.refs
        near = frame.index - anchors[-1] if anchors else 1
        far = frame.index - anchors[-refs:][0] if anchors else near
        multi = refs > 1
        mvs, distances = frame.mvs, None
        if mvs is not None and len(mvs):
            if not (mvs[:, 9] > 0).all():
                mvs = mvs[mvs[:, 9] > 0]
            distances = self._distances(frame, mvs, near, future, anchors[-refs:] if multi else anchors[-1:])
        fld = dense_field(mvs, height=frame.height, width=frame.width, stride=self.stride,
                          past_distance=near, future_distance=future, prior=st.prior,
                          max_past=far if multi else 1, max_future=future if multi else 1, distances=distances)
        if frame.pict_type == "B" and mvs is not None and len(mvs):
            fld = _borrow_still(fld, mvs, [f for f in (st.prior, after) if f is not None])
        st.prior = fld
        return fld

    def _flush(self, st: _Stream, next_anchor: int | None, after: MotionField | None = None) -> list:
        """The held B-frames with their fields, now that their next anchor (None: none comes) is known."""
        out = []
        for b in st.pending:
            a1 = next_anchor if next_anchor is not None else st.pending[-1].index + 1
            out.append((b, self._compute(st, b, a1 - b.index, after)))
        st.pending.clear()
        return out

    def fields(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, MotionField]]:
        """Yield every frame with its field (display order); B-frames wait for their next anchor."""
        info = getattr(frames, "info", None)
        st = _Stream(self.max_refs or getattr(info, "max_refs", None) or 0)  # else from the first frame's meta
        prev_index = prev_size = None

        def empty(frame: Frame) -> MotionField:
            st.prior = None
            return MotionField.empty(frame.height, frame.width, self.stride)

        for frame in frames:
            st.refs = st.refs or frame.meta.get("max_refs") or 1
            size = (frame.height, frame.width)
            broken = prev_index is None or frame.index != prev_index + 1 or size != prev_size
            if self._history is not None and (st.refs > 1 or frame.pict_type == "B"):  # else nothing to identify
                if broken:
                    self._history.clear()
                self._history.add(frame)
            prev_index, prev_size = frame.index, size
            if frame.mvs is None:  # codec without vectors: estimated vectors to the previous frame
                yield from self._flush(st, None)
                mvs = self._estimate(frame)
                if broken or mvs is None:
                    yield frame, empty(frame)
                else:
                    st.prior = dense_field(mvs, height=frame.height, width=frame.width, stride=self.stride)
                    yield frame, st.prior
                st.anchors = [frame.index]
                continue
            if broken:
                yield from self._flush(st, None)
                st.anchors = [] if frame.pict_type == "B" else [frame.index]
                yield frame, empty(frame)
                continue
            if frame.pict_type == "B":
                st.pending.append(frame)
                continue
            before = st.prior  # the anchor first: the B-frames before it borrow its motion
            fld = empty(frame) if frame.pict_type == "I" else self._compute(st, frame, 1)
            st.prior = before
            done = self._flush(st, frame.index, None if frame.pict_type == "I" else fld)
            st.prior = None if frame.pict_type == "I" else fld
            yield from done
            yield frame, fld
            # no vector after a key I-frame (IDR) points across it: its anchors are the only distances then
            st.anchors = [frame.index] if frame.meta.get("key") else (st.anchors + [frame.index])[-16:]
        yield from self._flush(st, None)
