"""Temporal consistency of label sequences: TC (Liu et al., ECCV 2020) and VC_n (VSPW, Miao et al., CVPR 2021).

Usage: ``tc = TemporalConsistency(num_classes=8); tc.add(labels_t, warp_labels(labels_t1, idx)); tc.score()``;
``vc = VideoConsistency((8, 16)); vc.add(pred, truth); vc.scores()`` → {8: 97.1, 16: 95.0}

**TC** (Liu et al., "Efficient Semantic Video Segmentation with Per-frame Inference", their tool/eval_tc.py):
for each pair of consecutive frames t, t+1 the prediction P_{t+1} is warped back to frame t along the optical
flow from frame t to frame t+1 (P_{t+1} read at p + flow(p), nearest pixel, positions clamped to the frame; no
occlusion mask), and per-class intersection and union of P_t and the warped P_{t+1} are summed over all pairs.
TC = mean over the classes with a non-zero union of ΣI / ΣU, in percent (eval_tc.py averages over every class,
an absent one counting 0; here absent classes are left out, as in mIoU). ``agreement`` is the pixel-level
figure from the same warp: the share of pixels whose label equals the warped next label.

**Flow for TC**: OpenCV's DIS optical flow (``cv2.DISOpticalFlow``, preset ``medium``, `DIS_PRESET`) between the
two frames' grayscale images; eval_tc.py uses FlowNet 2.0. DIS is independent of the block motion that the
propagating modes use. Needs the `bench` extra (OpenCV), imported when a flow is computed.

**VC_n** (VSPW's VC_perclip.py): for each window of n consecutive frames, the pixels whose ground-truth label
is the same in all n frames (ignore-label pixels left out); VC_n of the window = the share of those whose
prediction is also the same in all n frames (not necessarily equal to the truth). The score is the mean over
every window (start 0 to len - n, sliding by one; windows without such pixels left out), in percent. VSPW's
script iterates range(len - n), one window fewer, and skips clips of at most n frames. A sequence shorter than
n frames has no window: its VC_n is None. Streaming: per pixel, the length of the run of equal labels that ends
at the current frame (a window is stable where the run is ≥ n), so memory is independent of the clip length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from edgeseg.bench.metrics import confusion

DIS_PRESET = "medium"


def tc_counts(labels: np.ndarray, warped: np.ndarray, *, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class intersection and union (int64, shape (K,)) of P_t and the warped P_{t+1}."""
    cm = confusion(warped, labels, num_classes=num_classes, ignore=None)
    inter = np.diag(cm).copy()
    return inter, cm.sum(0) + cm.sum(1) - inter


def tc_score(inter: np.ndarray, union: np.ndarray) -> float | None:
    """Mean over classes with a non-zero union of I / U, in percent; None if every union is 0."""
    seen = union > 0
    return float(100.0 * np.mean(inter[seen] / union[seen])) if seen.any() else None


class TemporalConsistency:
    """TC summed over the pairs added: add(P_t, warped P_{t+1}) per pair, then score() and agreement()."""

    def __init__(self, *, num_classes: int):
        self.inter = np.zeros(num_classes, np.int64)
        self.union = np.zeros(num_classes, np.int64)
        self.k, self.pairs, self.pixels, self.equal = num_classes, 0, 0, 0

    def add(self, labels: np.ndarray, warped: np.ndarray) -> None:
        inter, union = tc_counts(labels, warped, num_classes=self.k)
        self.inter += inter
        self.union += union
        self.pairs += 1
        self.pixels += labels.size
        self.equal += int(np.count_nonzero(labels == warped))

    def score(self) -> float | None:
        """TC in percent; None before the first pair."""
        return tc_score(self.inter, self.union)

    def agreement(self) -> float | None:
        """Share of pixels (percent) whose label equals the warped next frame's; None before the first pair."""
        return 100.0 * self.equal / self.pixels if self.pixels else None


def temporal_consistency(labels: Sequence[np.ndarray], indices: Sequence[np.ndarray] | None = None, *,
                         num_classes: int) -> float | None:
    """TC of a label sequence; indices[t]: warp_indices of the flow from frame t to t+1 (None: identity flow).
    None for fewer than two frames."""
    tc = TemporalConsistency(num_classes=num_classes)
    for t in range(len(labels) - 1):
        nxt = labels[t + 1] if indices is None else warp_labels(labels[t + 1], indices[t])
        tc.add(labels[t], nxt)
    return tc.score()


def warp_indices(flow: np.ndarray) -> np.ndarray:
    """(H, W) flat indices of the pixel nearest p + flow(p), clamped to the frame; flow: (H, W, 2) as (dx, dy)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    x = np.clip(np.rint(xs + flow[..., 0]), 0, w - 1).astype(np.int32)
    y = np.clip(np.rint(ys + flow[..., 1]), 0, h - 1).astype(np.int32)
    return y * np.int32(w) + x


def warp_labels(labels: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """labels read at warp_indices(flow): the next frame's labels brought back to this frame (nearest pixel)."""
    return labels.reshape(-1)[indices]


class DisFlow:
    """OpenCV DIS optical flow (preset `DIS_PRESET`). ``flow(a, b)``: (H, W, 2) float32 with a(p) ≈ b(p + flow(p)),
    for RGB or grayscale uint8 images."""

    def __init__(self, preset: str = DIS_PRESET):
        from edgeseg.motion.flow import PRESETS
        from edgeseg.system.extras import require

        self._cv2 = require("cv2", purpose="temporal consistency (TC: DIS optical flow)")
        self._dis = self._cv2.DISOpticalFlow_create(PRESETS[preset])

    def gray(self, image: np.ndarray) -> np.ndarray:
        return image if image.ndim == 2 else self._cv2.cvtColor(image, self._cv2.COLOR_RGB2GRAY)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._dis.calc(self.gray(a), self.gray(b), None)


def pair_indices(images: Iterable[np.ndarray], flow: DisFlow | None = None) -> Iterator[np.ndarray]:
    """For each pair of consecutive images, warp_indices of the DIS flow from the first to the second (what
    warps P_{t+1} back to frame t)."""
    flow = flow or DisFlow()
    prev = None
    for image in images:
        gray = flow.gray(image)
        if prev is not None:
            yield warp_indices(flow(prev, gray))
        prev = gray


class VideoConsistency:
    """VC_n for each n in `lengths`, streaming: add(pred, truth) frame by frame in display order, then scores().

    `ignore` ground-truth pixels never count as stable (as in `confusion`)."""

    def __init__(self, lengths: Iterable[int] = (8, 16), *, ignore: int | None = 255):
        self.lengths = tuple(sorted(set(lengths)))
        if not self.lengths or not 1 <= self.lengths[0] <= self.lengths[-1] <= 255:
            raise ValueError(f"window lengths {lengths!r}: each must be in [1, 255]")
        self.ignore, self.frames = ignore, 0
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._runs: tuple[np.ndarray, np.ndarray] | None = None  # prediction's and truth's runs, uint8
        self._sum = dict.fromkeys(self.lengths, 0.0)
        self._windows = dict.fromkeys(self.lengths, 0)

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        if pred.shape != truth.shape:
            raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in size")
        if self._prev is None or self._prev[1].shape != truth.shape:
            self._runs = np.ones(pred.shape, np.uint8), np.ones(truth.shape, np.uint8)
            self.frames = 0
        else:
            for run, now, before in zip(self._runs, (pred, truth), self._prev, strict=True):
                np.minimum(run, self.lengths[-1] - 1, out=run)  # runs stop counting at the longest window
                run *= now == before  # a run continues where the label stayed, else restarts at 1
                run += 1
        self._prev = pred.copy(), truth.copy()
        self.frames += 1
        run_p, run_t = self._runs
        valid = truth != self.ignore if self.ignore is not None else True
        for n in self.lengths:
            if self.frames < n:
                break  # lengths are sorted: no window of this length or longer ends here yet
            stable = (run_t >= n) & valid
            count = int(np.count_nonzero(stable))
            if count:  # a window without ground-truth-stable pixels has no VC (VSPW: NaN, left out)
                self._sum[n] += int(np.count_nonzero(stable & (run_p >= n))) / count
                self._windows[n] += 1

    def scores(self) -> dict[int, float | None]:
        """VC_n in percent per window length; None where no window was scored (a sequence shorter than n)."""
        return {n: float(100.0 * self._sum[n] / self._windows[n]) if self._windows[n] else None for n in self.lengths}


def video_consistency(preds: Sequence[np.ndarray], truths: Sequence[np.ndarray], n: int, *,
                      ignore: int | None = 255) -> float | None:
    """VC_n of a whole sequence (percent); None when it is shorter than n frames."""
    vc = VideoConsistency((n,), ignore=ignore)
    for pred, truth in zip(preds, truths, strict=True):
        vc.add(pred, truth)
    return vc.scores()[n]
