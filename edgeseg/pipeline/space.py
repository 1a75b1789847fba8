"""The grids of one stream, set up from its first keyframe: what the feature network gets, where motion lands,
what a keyframe keeps for the frames after it, and how label maps come out of either.

Usage::

    space = WarpSpace(nets, spec=spec, model_hw=(360, 480), mean=m, std=s, timings=times)
    feats = space.features(frame)              # keyframes: preprocess + feature network (+ set-up)
    disp = space.disp(field, cut_below=0.25)   # non-keyframes: motion on the warp grid, or None

Where the task network is pointwise and affine (a 1×1 convolution, as in the reference model; checked on the
first keyframe, see edgeseg.pipeline.linearity), non-keyframes warp and blend the keyframe's K class scores
instead of its C feature channels: the labels are the same (warps and blends are convex combinations, which
such a task network commutes with) and the task network runs once per keyframe. ``space="features"`` forces
the feature path; GPU networks always use it (their warps are cheap and the task engine emits labels).
"""

from __future__ import annotations

import time

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.motion.grid import FieldResampler
from edgeseg.pipeline.guide import GuidedUpsampler
from edgeseg.pipeline.labels import ScoreResizer
from edgeseg.pipeline.linearity import pointwise_affine
from edgeseg.pipeline.preprocess import Preprocessor
from edgeseg.pipeline.result import StageTimes
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.source.frame import Frame
from edgeseg.warp.bilinear import identity_grid


def nearest(labels: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize a label map to (H, W) by nearest neighbour (pixel centres)."""
    if labels.shape == tuple(hw):
        return labels
    rows = ((np.arange(hw[0]) + 0.5) * labels.shape[0] / hw[0]).astype(np.intp)
    cols = ((np.arange(hw[1]) + 0.5) * labels.shape[1] / hw[1]).astype(np.intp)
    return labels[rows[:, None], cols[None, :]]


class WarpSpace:
    """Preprocessing, the warp grid and the label upsamplers of one stream (see the module docstring).

    space: "features" or "scores" once the first keyframe has run ("auto" until then).
    grid: (h, w, 2) identity positions of the warp grid; video_hw: the video's (H, W).
    align_corners: labels come from the scores as the model's own upsampling makes them (its bundle says which);
    a finer warp grid (warp_stride) is resampled and upsampled with half-pixel centres.
    """

    def __init__(self, nets, *, spec: SegmentSpec, model_hw: tuple[int, int], mean, std, timings: StageTimes,
                 align_corners: bool = False):
        self.nets, self.spec, self.xp, self.timings = nets, spec, nets.xp, timings
        self.align_corners = align_corners  # how the model upsamples its scores (the bundle says)
        self.space = "features" if nets.xp is not np else spec.space
        self.model_hw, self.mean, self.std = tuple(model_hw), mean, std
        self._prep: Preprocessor | None = None
        self._to_grid: FieldResampler | None = None
        self.to_labels: GuidedUpsampler | None = None  # keyframes' scores (+ guide, frame) → labels
        self._to_warp_labels: GuidedUpsampler | None = None  # warped scores → labels
        self.to_warp_grid: ScoreResizer | None = None  # a finer score grid (warp_stride)
        self.grid: np.ndarray | None = None
        self.feature_hw: tuple[int, int] | None = None  # the feature network's output grid

    @property
    def video_hw(self) -> tuple[int, int]:
        return self._prep.video_hw

    def image(self, frame: Frame) -> np.ndarray:
        """The frame as the feature network takes it: (1, 3, H, W) float32, normalised, at the model's size."""
        if self._prep is None or self._prep.video_hw != (frame.height, frame.width):
            self._prep = Preprocessor(video_hw=(frame.height, frame.width), model_hw=self.model_hw,
                                      mean=self.mean, std=self.std)
            self._to_grid = None
        scaled = frame.resized(*self.model_hw)  # the decoder's scaler (swscale) beats a NumPy resize
        return self._prep(scaled if scaled is not None else frame.image)

    def features(self, frame: Frame) -> np.ndarray:
        """Run the feature network on one frame → (1, C, h, w); sets up the grids on first use."""
        t = time.perf_counter()
        x = self.image(frame)
        t = self.timings.add("prep", t)
        feats = self.nets.features(x)
        self.timings.add("feature", t)
        if self._to_grid is None:
            self._set_up(feats)
        return feats

    def _set_up(self, feats: np.ndarray) -> None:
        h, w = self.feature_hw = tuple(feats.shape[2:])
        H, W = self._prep.video_hw
        fill = self.spec.fill_rounds
        self._to_grid = FieldResampler(video_hw=(H, W), feature_hw=(h, w), fill_rounds=fill)
        self.to_labels = self._to_warp_labels = GuidedUpsampler((h, w), (H, W), align_corners=self.align_corners)
        if self.space == "auto":
            exact = self.spec.plan.carries and pointwise_affine(self.nets.scores, feats)
            self.space = "scores" if exact else "features"
        if self.space == "scores" and self.spec.warp_stride:  # a finer warp grid for the class scores
            h, w = max(round(H / self.spec.warp_stride), 1), max(round(W / self.spec.warp_stride), 1)
            self.to_warp_grid = ScoreResizer((feats.shape[2], feats.shape[3]), (h, w))
            self._to_grid = FieldResampler(video_hw=(H, W), feature_hw=(h, w), fill_rounds=fill)
            self._to_warp_labels = GuidedUpsampler((h, w), (H, W))
        self.grid = identity_grid(h, w, self.xp)

    def keep(self, feats: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
        """What the frames until the next keyframe warp, channels last: the keyframe's features (1, C, h, w)
        or, in score space, its scores (K, h, w) (resampled to the finer warp grid where there is one)."""
        kept = scores if self.space == "scores" else feats[0]
        if self.to_warp_grid is not None:
            kept = self.to_warp_grid(scores)
        return self.xp.ascontiguousarray(kept.transpose(1, 2, 0))

    def disp(self, field: MotionField | None, *, cut_below: float) -> np.ndarray | None:
        """The field as (h, w, 2) displacements on the warp grid, or None where nothing links the frame to the
        one before (I-frame, no motion, a scene cut the policy keys on, or no keyframe has run yet)."""
        if field is None or self._to_grid is None or field.valid_fraction == 0.0 \
                or field.valid_fraction < cut_below:
            return None
        disp = self._to_grid(field)[0]
        return disp if self.xp is np else self.xp.asarray(disp)  # host → device: a few KB per frame

    @property
    def warp_labels(self):
        """The upsampler from the warp grid's class scores (score space) to labels (a GuidedUpsampler): a
        non-keyframe's labels, guided by its pixels where the colours its scores came with are given."""
        return self._to_warp_labels
