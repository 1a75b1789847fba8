"""Per-stream segmentation: keyframe features moved by block motion (prop), blended (interp), and baselines.

Usage::

    seg = StreamSegmenter(nets, mode="interp", policy=FixedInterval(interval=10), model_hw=(360, 480),
                          mean=bundle.mean, std=bundle.std)
    for frame, field in MotionFieldBuilder(stride=16).fields(open_source("clip.mp4")):
        for result in seg.push(frame, field):
            ...                                   # results come out in display order
    results = seg.flush()                         # at the end of the stream

Modes:
- frame: feature + task network on every frame (the baseline).
- prop: features of the last keyframe warped to the current frame; zero added latency.
- interp: also waits for the next keyframe, then frame i of a gap of K gets
  (K-i)/K · forward-warped previous-keyframe features + i/K · backward-warped next-keyframe features.
  Output lags by up to K frames; at most K+1 frames are held. ``fusion="photometric"`` also weighs the two
  keyframes per cell by how well their warped pixels match the frame's own (edgeseg.warp.fuse).
- reuse: the last keyframe's features, not warped.
- flow: prop with dense optical flow instead of block motion (the caller passes flow fields).

Where the task network is pointwise and affine (a 1×1 convolution, as in the reference model; checked on the
first keyframe, see edgeseg.pipeline.linearity), the non-keyframe path warps and blends the keyframe's K class
scores instead of its C feature channels: the labels are the same (warps and blends are convex combinations,
which such a task network commutes with) and the task network runs once per keyframe. ``space="features"``
forces the feature path; GPU backends always use it (their warps are cheap and the task engine emits labels).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from edgeseg.labels import LabelUpsampler, ScoreResizer
from edgeseg.motion.field import MotionField
from edgeseg.pipeline.linearity import pointwise_affine
from edgeseg.pipeline.preprocess import Preprocessor
from edgeseg.schedule.policy import KeyframePolicy
from edgeseg.source.frame import Frame
from edgeseg.warp.bilinear import gap_positions, identity_grid, warp, warp_blend
from edgeseg.warp.fuse import FUSIONS, match_error, mix, photometric_weights
from edgeseg.warp.grid import FieldResampler

MODES = ("frame", "prop", "interp", "reuse", "flow")
SPACES = ("auto", "features", "scores")  # what non-keyframes warp: auto = scores where that is exact


class Networks(Protocol):
    """The two halves of the model. Batched: several streams may share one instance.

    Device-resident networks (DeviceNetworks, the service's batcher on a GPU) also have `xp` (cupy: features
    stay on the device) and `labels(features)` → a host label map at the model's size, or None.
    """

    def features(self, images: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 normalised images → (N, C, h, w) features."""

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(N, C, h, w) features → (N, K, h, w) class scores at feature resolution."""


class DeviceNetworks:
    """A GPU backend's runners with every array left on the device; only label maps come back to the host.

    The bundle's task_labels network (upsampling + argmax inside the engine) gives labels at the model's
    input size; without it, class scores are copied back and upsampled on the host.
    """

    def __init__(self, backend):
        import cupy

        self.xp = cupy
        self._f, self._t, self._tl = backend.feature, backend.task, backend.task_labels

    def features(self, images):
        return self._f.run({self._f.inputs[0]: self.xp.asarray(images)})[self._f.outputs[0]]

    def scores(self, features):
        return self._t.run({self._t.inputs[0]: features})[self._t.outputs[0]].get()

    def labels(self, features) -> np.ndarray | None:
        if self._tl is None:
            return None
        return self._tl.run({self._tl.inputs[0]: features})[self._tl.outputs[0]][0].get().astype(np.uint8)


def _nearest(labels: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize a label map to (H, W) by nearest neighbour (pixel centres)."""
    if labels.shape == tuple(hw):
        return labels
    rows = ((np.arange(hw[0]) + 0.5) * labels.shape[0] / hw[0]).astype(np.intp)
    cols = ((np.arange(hw[1]) + 0.5) * labels.shape[1] / hw[1]).astype(np.intp)
    return labels[rows[:, None], cols[None, :]]


@functools.lru_cache(maxsize=256)
def _gap_weights(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """interp's blend weights for the n held frames of a gap, the last m of which keyframe b reaches:
    frame i gets (n - i)/(n + 1) of keyframe a and (i + 1)/(n + 1) of b (all of a where b does not reach).
    Cached, read-only: building them costs more than the frames' share of the blend at these sizes."""
    wb = np.zeros(n, np.float32)
    wb[n - m:] = (np.arange(n - m, n) + 1) / (n + 1)
    wa = 1.0 - wb
    wa.flags.writeable = wb.flags.writeable = False
    return wa, wb


@dataclass(slots=True)
class Result:
    """One segmented frame. labels: (H, W) uint8 at the video's resolution, value = class index."""

    frame: Frame
    labels: np.ndarray
    keyframe: bool
    latency_ms: float  # from push() of this frame to its result


class StageTimes:
    """Accumulated seconds and calls per stage (prep, feature, task, labels, warp): for benchmarks."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
        self.calls[stage] = self.calls.get(stage, 0) + 1
        return now

    def mean_ms(self) -> dict[str, float]:
        return {k: 1e3 * v / self.calls[k] for k, v in self.seconds.items()}


@dataclass(slots=True)
class _Pending:
    frame: Frame
    disp: np.ndarray | None  # motion to the previous frame, feature cells
    t0: float


class StreamSegmenter:
    """Turns frames + motion fields into label maps for one stream (see the module docstring)."""

    def __init__(self, nets: Networks, *, mode: str, policy: KeyframePolicy, model_hw: tuple[int, int],
                 mean, std, prop_strategy: str = "compose", fill_rounds: int = 4, space: str = "auto",
                 warp_stride: int | None = None, fusion: str = "linear"):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
        if space not in SPACES:
            raise ValueError(f"unknown warp space {space!r}; choose from {', '.join(SPACES)}")
        if prop_strategy not in ("compose", "step"):
            raise ValueError(f"unknown prop strategy {prop_strategy!r}")
        if getattr(nets, "on_device", False):  # a GPU backend: features, warps and fusion stay on the device
            nets = DeviceNetworks(nets)
        self.nets, self.mode, self.policy = nets, mode, policy
        self.photometric = mode == "interp" and fusion == "photometric"
        # A frame the policy treats as a scene cut (mostly intra-coded P/B) has no motion to its predecessor:
        # interp must not chain the frames before it to features of the new scene.
        self._cut_below = getattr(policy, "cut_valid_fraction", 0.0) if getattr(policy, "at_iframes", False) else 0.0
        self._xp = getattr(nets, "xp", np)
        self.space = "features" if self._xp is not np else space  # resolved on the first keyframe
        self.warp_stride = warp_stride  # score space: warp on a grid of this many video pixels (None: features')
        self._to_warp_labels: LabelUpsampler | None = None
        self._to_warp_grid: ScoreResizer | None = None
        self.model_hw, self.mean, self.std = tuple(model_hw), mean, std
        self.prop_strategy, self.fill_rounds = prop_strategy, fill_rounds
        self._prep: Preprocessor | None = None
        self._to_grid: FieldResampler | None = None
        self._to_labels: LabelUpsampler | None = None
        self._grid: np.ndarray | None = None
        self._key: np.ndarray | None = None  # last keyframe's features (h, w, C), or its scores (h, w, K)
        self._thumb: np.ndarray | None = None  # photometric fusion: the last keyframe's thumbnail (h, w, 3)
        self._cur: np.ndarray | None = None  # prop "step": the current frame's features
        self._pos: np.ndarray | None = None  # prop "compose": current cells' positions in the keyframe
        self._since_key = 0
        self._pending: list[_Pending] = []
        self.keyframes = 0
        self.timings = StageTimes()

    # -- stages ---------------------------------------------------------------------------------------
    def _features(self, frame: Frame) -> np.ndarray:
        """Run the feature network on one frame → (1, C, h, w); sets up the grids on first use."""
        if self._prep is None or self._prep.video_hw != (frame.height, frame.width):
            self._prep = Preprocessor(video_hw=(frame.height, frame.width), model_hw=self.model_hw,
                                      mean=self.mean, std=self.std)
            self._to_grid = None
        t = time.perf_counter()
        scaled = frame.resized(*self.model_hw)  # the decoder's scaler (swscale) beats a NumPy resize
        x = self._prep(scaled if scaled is not None else frame.image)
        t = self.timings.add("prep", t)
        feats = self.nets.features(x)
        self.timings.add("feature", t)
        if self._to_grid is None:
            h, w = feats.shape[2:]
            self._to_grid = FieldResampler(video_hw=self._prep.video_hw, feature_hw=(h, w),
                                           fill_rounds=self.fill_rounds)
            self._to_labels = self._to_warp_labels = LabelUpsampler((h, w), self._prep.video_hw)
            if self.space == "auto":
                exact = self.mode != "frame" and pointwise_affine(self.nets.scores, feats)
                self.space = "scores" if exact else "features"
            if self.space == "scores" and self.warp_stride:  # a finer warp grid for the class scores
                H, W = self._prep.video_hw
                h, w = max(round(H / self.warp_stride), 1), max(round(W / self.warp_stride), 1)
                self._to_warp_grid = ScoreResizer((feats.shape[2], feats.shape[3]), (h, w))
                self._to_grid = FieldResampler(video_hw=(H, W), feature_hw=(h, w), fill_rounds=self.fill_rounds)
                self._to_warp_labels = LabelUpsampler((h, w), (H, W))
            self._grid = identity_grid(h, w, self._xp)
        self.keyframes += 1
        return feats

    def _emit(self, frame: Frame, feats_nchw: np.ndarray, keyframe: bool,
              t0: float) -> tuple[Result, np.ndarray | None]:
        """Labels for a frame from its features; also returns its scores (K, h, w) when computed on the host."""
        t = time.perf_counter()
        labels = self.nets.labels(feats_nchw) if self._xp is not np else None  # device-resident networks
        if labels is not None:  # on the device: only the label map crossed to the host
            labels = _nearest(labels, self._prep.video_hw)
            self.timings.add("task", t)
            return Result(frame, labels, keyframe, (time.perf_counter() - t0) * 1e3), None
        scores = self.nets.scores(feats_nchw)[0]
        self.timings.add("task", t)
        return self._emit_scores(frame, scores, keyframe, t0), scores

    def _emit_scores(self, frame: Frame, scores_khw: np.ndarray, keyframe: bool, t0: float) -> Result:
        t = time.perf_counter()
        labels = self._to_labels(scores_khw)
        self.timings.add("labels", t)
        return Result(frame, labels, keyframe, (time.perf_counter() - t0) * 1e3)

    def _emit_hwc(self, frame: Frame, warped_hwc: np.ndarray, t0: float) -> Result:
        """A non-keyframe from warped keyframe data: scores (score space) or features, channels last."""
        if self.space == "scores":
            t = time.perf_counter()
            labels = self._to_warp_labels(warped_hwc.transpose(2, 0, 1))
            self.timings.add("labels", t)
            return Result(frame, labels, False, (time.perf_counter() - t0) * 1e3)
        return self._emit(frame, self._xp.ascontiguousarray(warped_hwc.transpose(2, 0, 1))[None], False, t0)[0]

    def _disp(self, field: MotionField | None) -> np.ndarray | None:
        if field is None or self._to_grid is None or field.valid_fraction == 0.0 \
                or field.valid_fraction < self._cut_below:
            return None  # no usable motion (I-frame, scene cut, or not set up yet): nothing links it to before
        disp = self._to_grid(field)[0]
        return disp if self._xp is np else self._xp.asarray(disp)  # host → device: a few KB per frame

    def _keyframe(self, frame: Frame, t0: float) -> Result:
        feats = self._features(frame)
        result, scores = self._emit(frame, feats, True, t0)
        kept = scores if self.space == "scores" else feats[0]  # what the frames until the next keyframe warp
        if self._to_warp_grid is not None:
            kept = self._to_warp_grid(scores)
        self._key = self._xp.ascontiguousarray(kept.transpose(1, 2, 0))
        self._cur, self._pos, self._since_key = self._key, self._grid, 0
        if self.photometric:
            self._thumb = self._xp.asarray(frame.thumbnail(*self._grid.shape[:2]))
        return result

    # -- public ---------------------------------------------------------------------------------------
    def push(self, frame: Frame, field: MotionField | None) -> list[Result]:
        """Feed the next frame (display order) and its motion field; returns the results now complete."""
        t0 = time.perf_counter()
        if self.mode == "frame" or self._key is None:
            return [self._keyframe(frame, t0)]
        self._since_key += 1
        if self.mode == "interp" and hasattr(self.policy, "place"):  # a look-ahead policy (LookaheadPolicy)
            return self._push_lookahead(frame, field, t0)
        is_key = self.policy.decide(frame, field, self._since_key)
        if self.mode == "interp":
            return self._push_interp(frame, field, is_key, t0)
        if is_key:
            return [self._keyframe(frame, t0)]
        if self.mode == "reuse":
            return [self._emit_hwc(frame, self._key, t0)]
        disp = self._disp(field)
        if disp is None:
            return [self._emit_hwc(frame, self._cur, t0)]
        t = time.perf_counter()
        if self.prop_strategy == "step":  # warp the previous frame's features by one step
            self._cur = warp(self._cur, self._grid + disp)
        else:  # compose positions back to the keyframe, warp the keyframe once (no repeated blurring)
            self._pos = warp(self._pos, self._grid + disp)
            self._cur = warp(self._key, self._pos)
        self.timings.add("warp", t)
        return [self._emit_hwc(frame, self._cur, t0)]

    def _push_interp(self, frame: Frame, field: MotionField | None, is_key: bool, t0: float) -> list[Result]:
        disp = self._disp(field)
        if not is_key:
            self._pending.append(_Pending(frame, disp, t0))
            return []
        # A keyframe without motion to its predecessor (I-frame, scene cut) breaks the backward chain:
        # the frames before it then use the previous keyframe alone.
        return self._close_gap(frame, t0, disp)

    def _push_lookahead(self, frame: Frame, field: MotionField | None, t0: float) -> list[Result]:
        """interp with a look-ahead policy: hold the frame; each keyframe the policy places among the held
        frames closes the gap before it (the frames after it stay held for the next gap)."""
        self._pending.append(_Pending(frame, self._disp(field), t0))
        results, done = [], 0
        for pos in self.policy.place(frame, field, len(self._pending)):
            held, cut = self._pending, pos - done - 1
            self._pending, key = held[:cut], held[cut]
            results += self._close_gap(key.frame, key.t0, key.disp)
            self._pending, done = held[cut + 1:], pos
        self._since_key = len(self._pending)
        return results

    def _close_gap(self, frame: Frame, t0: float, disp_b: np.ndarray | None) -> list[Result]:
        """Keyframe b = `frame` ends the gap of held frames: their results (display order), then b's."""
        partial = self._blend_from_a(disp_b)  # before the feature network, while the gap's data is in cache
        key_result = self._keyframe(frame, t0)
        return [*self._blend_in_b(partial), key_result]

    def _blend_from_a(self, disp_b: np.ndarray | None):
        """The held frames' positions in keyframe a (forward chain) and in keyframe b (backward chain), and
        the first half of their fusion: (1 - w_b) · keyframe a at the forward positions. None if none held.
        Photometric fusion: keyframe a unweighted instead (w_b is per cell, known once b is warped), with the
        frames' thumbnails and keyframe a's match errors."""
        pending, grid = self._pending, self._grid
        n = len(pending)
        if n == 0:
            return None
        t = time.perf_counter()
        # Positions of the held frames' cells in keyframe a (forward chain) and in keyframe b (backward chain,
        # for the last m frames: a frame without motion to its predecessor cuts it; those before use a alone).
        forward, bpos, m = gap_positions(grid, [item.disp for item in pending], disp_b)
        wa, wb = _gap_weights(n, m)
        photo = None
        if self.photometric and m:
            xp, hw = self._xp, grid.shape[:2]
            thumbs = xp.asarray(np.stack([item.frame.thumbnail(*hw) for item in pending[n - m:]]))
            photo = thumbs, match_error(self._thumb, forward[n - m:], thumbs)
            wa = _gap_weights(n, 0)[0]  # 1: keyframe a alone until the per-cell weights are known
        # every frame of the gap is fused in one batched call per keyframe (per-frame calls cost more)
        fused = warp_blend([(self._key, forward, wa)])  # (n, h, w, C)
        self.timings.add("warp", t)
        return fused, (bpos if m else None), wb, photo

    def _blend_in_b(self, partial) -> list[Result]:
        """Add w_b · the new keyframe b at the backward positions, then emit the held frames. Photometric:
        out = (1 - w_b) · a + w_b · b with w_b per cell, for the frames b reaches."""
        pending, self._pending = self._pending, []
        if partial is None:
            return []
        fused, bpos, wb, photo = partial
        if bpos is not None:
            t = time.perf_counter()
            if photo is None:
                fused = warp_blend([(self._key, bpos, wb)], add_to=fused)
            else:
                thumbs, err_a = photo
                n, m = len(pending), len(thumbs)
                reach = bpos[n - m:]
                wb_cells = photometric_weights(wb[n - m:], err_a, match_error(self._thumb, reach, thumbs))
                mix(fused[n - m:], warp_blend([(self._key, reach, _gap_weights(m, 0)[0])]), wb_cells)  # in place
            self.timings.add("warp", t)
        return [self._emit_hwc(item.frame, fused[k], item.t0) for k, item in enumerate(pending)]

    def flush(self) -> list[Result]:
        """End of stream: emit every held frame. In interp mode the last held frame becomes a keyframe."""
        if not self._pending:
            return []
        last = self._pending.pop()
        return self._close_gap(last.frame, last.t0, last.disp)

    @property
    def held(self) -> int:
        """Frames waiting for their result (interp only)."""
        return len(self._pending)
