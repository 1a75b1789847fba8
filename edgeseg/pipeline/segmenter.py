"""The per-stream segmenter core: keyframes through the feature network, every other frame from warped
keyframe data, in display order.

Usage::

    seg = Segmenter(nets, spec=SegmentSpec(mode="interp", keyframe_interval=10), input_hw=(360, 480),
                    mean=bundle.mean, std=bundle.std)
    for frame, field in motion_pairs(source, spec):
        for result in seg.push(frame, field):
            ...                                   # results come out in display order
    results = seg.flush()                         # at the end of the stream

(edgeseg.pipeline.build_segmenter makes one from a spec and a bundle.) Modes:
- frame: feature + task network on every frame (the baseline).
- prop / reuse / flow: the last keyframe's data moved to the current frame by a propagation strategy
  (edgeseg.pipeline.propagate); zero added latency. flow: the caller passes optical-flow fields.
- interp: the frames of a gap are held until the next keyframe, then blended from both keyframes by a fusion
  strategy (edgeseg.pipeline.interpolate). Output lags by up to the gap; the keyframe policy places keyframes
  among the held frames (edgeseg.schedule).
What non-keyframes warp (features, or class scores where that is exact) is edgeseg.pipeline.space's choice.
Observers (``seg.observe(fn)``) see each keyframe's features and each non-keyframe's warped data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.pipeline.interpolate import FUSION_STRATEGIES, Gap
from edgeseg.pipeline.propagate import PROPAGATIONS, Track
from edgeseg.pipeline.result import Result, StageTimes
from edgeseg.pipeline.space import WarpSpace, nearest
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.schedule.policy import KeyframePolicy
from edgeseg.source.frame import Frame

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
        interp = spec.mode == "interp"
        self._fusion = FUSION_STRATEGIES[spec.fusion]() if interp else None
        self._thumbs = interp and spec.fusion == "photometric"
        self._propagate = PROPAGATIONS["reuse" if spec.mode == "reuse" else spec.propagation]
        self._track: Track | None = None
        self._held: list[_Held] = []
        self._since_key = 0
        self._observers: list[Observer] = []

    def observe(self, fn: Observer) -> None:
        """Call fn(stage, frame, data) with each keyframe's features ("keyframe", (1, C, h, w)) and each
        non-keyframe's warped data ("warped", (h, w, C) features or scores, channels last)."""
        self._observers.append(fn)

    @property
    def held(self) -> int:
        """Frames waiting for their result (interp only)."""
        return len(self._held)

    # -- public ---------------------------------------------------------------------------------------
    def push(self, frame: Frame, field: MotionField | None) -> list[Result]:
        """Feed the next frame (display order) and its motion field; returns the results now complete."""
        t0 = time.perf_counter()
        if self._track is None or self.spec.mode == "frame":
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
        return [self._warped(frame, data, t0)]

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
        result = self._keyframe(key.frame, key.t0)
        held, self._held = self._held, []
        if gap is None:
            return [result]
        t = time.perf_counter()
        self._fusion.finish(gap, self._track)
        self.timings.add("warp", t)
        return [*(self._warped(h.frame, gap.fused[k], h.t0) for k, h in enumerate(held)), result]

    def _keyframe(self, frame: Frame, t0: float) -> Result:
        feats = self.space.features(frame)
        self.keyframes += 1
        for fn in self._observers:
            fn("keyframe", frame, feats)
        result, scores = self._emit(frame, feats, True, t0)
        grid = self.space.grid
        thumb = self.space.xp.asarray(frame.thumbnail(*grid.shape[:2])) if self._thumbs else None
        self._track = Track(self.space.keep(feats, scores), grid, thumb)
        self._since_key = 0
        return result

    def _emit(self, frame: Frame, feats_nchw, keyframe: bool, t0: float) -> tuple[Result, np.ndarray | None]:
        """Labels for a frame from its features; also returns its scores (K, h, w) when computed on the host."""
        t = time.perf_counter()
        labels = self.nets.labels(feats_nchw)  # device networks: only the label map crosses to the host
        if labels is not None:
            labels = nearest(labels, self.space.video_hw)
            self.timings.add("task", t)
            return Result(frame, labels, keyframe, (time.perf_counter() - t0) * 1e3), None
        scores = self.nets.scores(feats_nchw)[0]
        t = self.timings.add("task", t)
        labels = self.space.to_labels(scores)
        self.timings.add("labels", t)
        return Result(frame, labels, keyframe, (time.perf_counter() - t0) * 1e3), scores

    def _warped(self, frame: Frame, data_hwc, t0: float) -> Result:
        """A non-keyframe from warped keyframe data (scores in score space, else features), channels last."""
        for fn in self._observers:
            fn("warped", frame, data_hwc)
        if self.space.space == "scores":
            t = time.perf_counter()
            labels = self.space.warped_labels(data_hwc)
            self.timings.add("labels", t)
            return Result(frame, labels, False, (time.perf_counter() - t0) * 1e3)
        return self._emit(frame, self.space.xp.ascontiguousarray(data_hwc.transpose(2, 0, 1))[None], False, t0)[0]
