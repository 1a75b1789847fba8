"""The per-stream segmenter core: keyframes through the feature network, every other frame from warped
keyframe data, in display order.

Usage::

    seg = Segmenter(nets, spec=SegmentSpec(mode="interp", keyframe_interval=10), input_hw=(360, 480),
                    mean=bundle.mean, std=bundle.std)
    for frame, field in motion_pairs(source, spec):
        for result in seg.push(frame, field):
            ...                                   # results come out in display order
    results = seg.flush()                         # at the end of the stream

(edgeseg.pipeline.build_segmenter makes one from a spec and a bundle.) Modes (each a plan: edgeseg.pipeline.modes):
- frame: feature + task network on every frame (the baseline).
- prop / reuse / flow: the last keyframe's data moved to the current frame by a propagation strategy
  (edgeseg.pipeline.propagate); zero added latency. flow: the caller passes optical-flow fields.
- interp: the frames of a gap are held until the next keyframe, then blended from both keyframes by a fusion
  strategy (edgeseg.pipeline.interpolate). Output lags by up to the gap; the keyframe policy places keyframes
  among the held frames (edgeseg.schedule).
What non-keyframes warp (features, or class scores where that is exact) is edgeseg.pipeline.space's choice.
Each non-keyframe's data comes with the colours it was carried with (the keyframes' thumbnails, moved and
blended alike). With ``spec.guide`` labels follow the frame's own pixels where those colours say the data sits
off its edges (edgeseg.pipeline.guide; keyframes are guided by their own colours); with ``spec.correct`` the
feature network runs again on the tiles where the colours disagree most (edgeseg.pipeline.correct).
Observers (``seg.observe(fn)``) see each keyframe's features and each non-keyframe's warped data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeseg.backend.base import to_host
from edgeseg.motion.field import MotionField
from edgeseg.pipeline.correct import Correction
from edgeseg.pipeline.interpolate import FUSIONS, Gap
from edgeseg.pipeline.propagate import PROPAGATIONS, Track, carried
from edgeseg.pipeline.result import Result, StageTimes
from edgeseg.pipeline.space import WarpSpace, nearest
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.schedule.policy import KeyframePolicy
from edgeseg.source.frame import Frame
from edgeseg.warp.bilinear import array_module

Observer = Callable[[str, Frame, np.ndarray], None]  # (stage: "keyframe" | "warped", frame, data)


@dataclass(slots=True)
class _Held:
    frame: Frame
    disp: np.ndarray | None  # motion to the previous frame on the warp grid
    t0: float


class Segmenter:
    """Turns frames + motion fields into label maps for one stream (see the module docstring).

    nets: edgeseg.backend.Networks; policy: the keyframe policy (default: a new one from the spec);
    align_corners: how the model upsamples its class scores (Bundle.align_corners).
    """

    def __init__(self, nets, *, spec: SegmentSpec, input_hw: tuple[int, int], mean, std,
                 policy: KeyframePolicy | None = None, align_corners: bool = False):
        self.nets, self.spec = nets, spec
        self.policy = policy if policy is not None else spec.policy()
        self.timings = StageTimes()
        self.space = WarpSpace(nets, spec=spec, model_hw=input_hw, mean=mean, std=std, timings=self.timings,
                               align_corners=align_corners)
        self.keyframes = 0
        plan = self.plan = spec.plan  # the mode unpacked (edgeseg.pipeline.modes)
        self._fusion = FUSIONS.get(plan.fusion)() if plan.hold else None
        self._correct = Correction(nets, self.space, budget=spec.correct, threshold=spec.correct_error) \
            if spec.correct and plan.carries else None
        self._guide = spec.guide
        # non-keyframes need the colours their data came with (frame mode has none)
        self._carry = (spec.guide or self._correct is not None) and plan.carries
        self._thumbs = (self._fusion is not None and self._fusion.thumbnails) or self._carry
        self._propagate = PROPAGATIONS.get(plan.propagation) if plan.propagation else None
        # the correction edits a frame's data in place: a copy where the track reads it again (step, reuse)
        self._copy = plan.propagation is not None and not PROPAGATIONS.meta(plan.propagation)["writable"]
        self._track: Track | None = None
        self._held: list[_Held] = []
        self._since_key = 0
        self._observers: list[Observer] = []

    def observe(self, fn: Observer) -> None:
        """Call fn(stage, frame, data) with each keyframe's features ("keyframe", (1, C, h, w)) and each
        non-keyframe's warped data ("warped", (h, w, C) features or scores, channels last)."""
        self._observers.append(fn)

    @property
    def corrected_tiles(self) -> int:
        """Tiles the correction has recomputed so far (0 without one)."""
        return 0 if self._correct is None else self._correct.tiles

    @property
    def held(self) -> int:
        """Frames waiting for their result (interp only)."""
        return len(self._held)

    # -- public ---------------------------------------------------------------------------------------
    def push(self, frame: Frame, field: MotionField | None) -> list[Result]:
        """Feed the next frame (display order) and its motion field; returns the results now complete."""
        t0 = time.perf_counter()
        if self._track is None or self.plan.every_frame_keyframe:
            return [self._keyframe(frame, t0)]
        if self._fusion is not None:
            return self._push_held(frame, field, t0)
        self._since_key += 1
        if self.policy.decide(frame, field, self._since_key):
            return [self._keyframe(frame, t0)]
        disp = self.space.disp(field, cut_below=self.policy.cut_below)
        data = self._track.cur
        if disp is not None:
            t = time.perf_counter()
            data = self._propagate(self._track, disp)
            self.timings.add("warp", t)
        colours = None
        if self._carry:
            t = time.perf_counter()
            colours = carried(self._track)
            if self._correct is not None:
                if self._copy:
                    data = data.copy()  # the track's own data stays as it is
                thumb = self.space.xp.asarray(frame.thumbnail(*self._track.grid.shape[:2]))
                self._correct([frame], [data], colours[None], thumb[None])
            self.timings.add("carry", t)
        return [self._warped(frame, data, t0, colours if self._guide else None)]

    def flush(self) -> list[Result]:
        """End of stream: emit every held frame. In interp mode the last held frame becomes a keyframe."""
        if not self._held:
            return []
        return self._close_gap(self._held.pop())

    # -- stages ---------------------------------------------------------------------------------------
    def _push_held(self, frame: Frame, field: MotionField | None, t0: float) -> list[Result]:
        """interp: hold the frame; each keyframe the policy places among the held frames closes the gap before
        it (the frames after it stay held for the next gap)."""
        self._held.append(_Held(frame, self.space.disp(field, cut_below=self.policy.cut_below), t0))
        results, done = [], 0
        for pos in self.policy.place(frame, field, len(self._held)):
            held, cut = self._held, pos - done - 1
            self._held = held[:cut]
            results += self._close_gap(held[cut])
            self._held, done = held[cut + 1:], pos
        return results

    def _close_gap(self, key: _Held) -> list[Result]:
        """Keyframe b = `key` ends the gap of held frames: their results (display order), then b's."""
        gap = None
        if self._held:
            t = time.perf_counter()
            gap = Gap.between(self._track, [h.disp for h in self._held], key.disp, [h.frame for h in self._held])
            self._fusion.start(gap, self._track)  # before the feature network, while the gap is in cache
            self.timings.add("warp", t)
        track_a = self._track
        result = self._keyframe(key.frame, key.t0)
        held, self._held = self._held, []
        if gap is None:
            return [result]
        t = time.perf_counter()
        self._fusion.finish(gap, self._track)
        t = self.timings.add("warp", t)
        colours = [None] * gap.n
        if self._carry:
            colours = self._fusion.carried(gap, track_a, self._track)
            if self._correct is not None:
                self._correct(gap.frames, gap.fused, colours, gap.thumbnails(colours))
            self.timings.add("carry", t)
        guides = colours if self._guide else [None] * gap.n
        return [*(self._warped(h.frame, gap.fused[k], h.t0, guides[k]) for k, h in enumerate(held)), result]

    def _keyframe(self, frame: Frame, t0: float) -> Result:
        feats = self.space.features(frame)
        if self._correct is not None and not self.keyframes:
            self._correct.prepare()
        self.keyframes += 1
        for fn in self._observers:
            fn("keyframe", frame, feats)
        own = frame.thumbnail(*self.space.feature_hw) if self._guide else None  # its cells' own colours
        result, scores = self._emit(frame, feats, True, t0, own)
        grid = self.space.grid
        thumb = None
        if self._thumbs:
            thumb = own if own is not None and own.shape[:2] == grid.shape[:2] else frame.thumbnail(*grid.shape[:2])
            thumb = self.space.xp.asarray(thumb)
        self._track = Track(self.space.keep(feats, scores), grid, thumb)
        self._since_key = 0
        return result

    def _emit(self, frame: Frame, feats_nchw, keyframe: bool, t0: float, guide=None
              ) -> tuple[Result, np.ndarray | None]:
        """Labels for a frame from its features (guided by its pixels against `guide`, the colours of the
        feature grid's cells, where given); also returns its scores (K, h, w) when computed on the host."""
        t = time.perf_counter()
        # device networks without guidance: only the label map crosses to the host
        labels = self.nets.labels(feats_nchw) if guide is None else None
        if labels is not None:
            labels = nearest(labels, self.space.video_hw)
            self.timings.add("task", t)
            return Result(frame, labels, keyframe, (time.perf_counter() - t0) * 1e3), None
        scores = self.nets.scores(feats_nchw)[0]
        self.timings.add("task", t)
        return self._deferred(frame, keyframe, t0, self.space.to_labels, scores, guide), scores

    def _deferred(self, frame: Frame, keyframe: bool, t0: float, upsampler, scores_khw, guide) -> Result:
        """A Result whose labels are made from these scores when an output first reads them (on its thread),
        at the resolution it asks for (Result.labels_at). Scores and guide are copied: the segmenter reuses
        its buffers."""
        # guided labels of device scores are made on the device (the CUDA twin); everything else on the host
        xp = array_module(scores_khw) if self._guide else np

        def own(a):  # a copy of our own, on the side where the labels are made
            return xp.array(a if xp is not np else to_host(a), xp.float32, order="C")

        scores, guide = own(scores_khw), None if guide is None else own(guide)
        timings = self.timings

        def make(step: int) -> np.ndarray:
            t = time.perf_counter()
            labels = upsampler(scores, guide, frame, step=step)
            timings.add("labels" if step == 1 else "labels-sampled", t)
            return labels

        return Result(frame, None, keyframe, (time.perf_counter() - t0) * 1e3, make=make)

    def _warped(self, frame: Frame, data_hwc, t0: float, guide=None) -> Result:
        """A non-keyframe from warped keyframe data (scores in score space, else features), channels last;
        guide: the colours its data came with (h, w, 3), or None."""
        for fn in self._observers:
            fn("warped", frame, data_hwc)
        if self.space.space == "scores":
            return self._deferred(frame, False, t0, self.space.warp_labels, data_hwc.transpose(2, 0, 1), guide)
        feats = self.space.xp.ascontiguousarray(data_hwc.transpose(2, 0, 1))[None]
        return self._emit(frame, feats, False, t0, guide)[0]
