"""How much better could interp's fusion be? Linear, photometric, a learned per-cell rule and a per-cell oracle.

    python benchmarks/fusion_bound.py CLIP [CLIP ...] [-k 10] [--model BUNDLE] [--json OUT]

CLIP: a directory made by `edgeseg synth` (video.mp4 + labels/: mIoU against the ground truth) or a video file
(agreement with frame mode's own labels). interp runs with a keyframe every K frames
(and at cuts) in the library's own StreamSegmenter; for every held frame the two warped keyframes' class scores
(a: forward chain, b: backward chain) and their thumbnails' match errors are kept, and each rule's labels are
scored as `edgeseg bench` scores them (avg: all frames' summed confusion; min: the worst offset from the
keyframe):
- linear, photometric: the library's rules (edgeseg.warp.fuse);
- learned: a logistic rule per cell over eight features (the linear log-odds, the two match errors, their
  3×3 neighbourhood, both keyframes' score margins and label boundaries), fitted on the other clips (leave one
  clip out) to predict which keyframe labels more of the cell's pixels right;
- colour: photometric, plus 0.5 × the log-probability of each class given the cell's colour, from a class-
  conditional colour histogram (8 levels per channel) of both keyframes' thumbnails and labels (an appearance
  prior; measured, not shipped);
- oracle: per warp-grid cell, whichever of a, b and the linear blend labels the most of the cell's pixels right,
  chosen with the ground truth: a bound for any rule that fuses the two warped keyframes cell by cell.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from edgeseg.benchmark import LabelDir, _Scorer
from edgeseg.pipeline.networks import open_networks
from edgeseg.pipeline.run import run_stream
from edgeseg.pipeline.segmenter import StreamSegmenter, _gap_weights
from edgeseg.pipeline.session import motion_pairs
from edgeseg.schedule import FixedInterval
from edgeseg.source import open_source
from edgeseg.warp.bilinear import gap_positions, warp
from edgeseg.warp.fuse import match_error, mix, photometric_weights

RULES = ("linear", "photometric", "learned", "colour", "oracle")
COLOUR_LEVELS, COLOUR_WEIGHT = 8, 0.5


def colour_bins(thumb):
    """Histogram bin of each cell's colour (COLOUR_LEVELS per channel)."""
    q = np.clip(thumb, 0, 255).astype(np.int64) * COLOUR_LEVELS // 256
    return (q[..., 0] * COLOUR_LEVELS + q[..., 1]) * COLOUR_LEVELS + q[..., 2]


class Capture(StreamSegmenter):
    """interp with linear fusion that also keeps, per held frame: (index, a, b, err_a, err_b, w_b, the frame's
    thumbnail, the keyframes' class-colour counts); frames that keyframe b does not reach (a cut ends the gap)
    keep b = a, w_b = 0."""

    def __init__(self, *args, **kw):
        super().__init__(*args, mode="interp", space="scores", **kw)
        self.held_frames: list[tuple] = []

    def _keyframe(self, frame, t0):
        result = super()._keyframe(frame, t0)
        self.key_thumb = frame.thumbnail(*self._grid.shape[:2])
        self.key_counts = np.zeros((COLOUR_LEVELS ** 3, self._key.shape[-1]))
        np.add.at(self.key_counts, (colour_bins(self.key_thumb).ravel(), self._key.argmax(-1).ravel()), 1)
        return result

    def _blend_from_a(self, disp_b):
        if not self._pending:
            return None
        return (self._key, self.key_thumb, *gap_positions(self._grid, [p.disp for p in self._pending], disp_b),
                self.key_counts)

    def _blend_in_b(self, partial):
        pending, self._pending = self._pending, []
        if partial is None:
            return []
        key_a, thumb_a, forward, back, m, counts_a = partial
        n = len(pending)
        wa, wb = _gap_weights(n, m)
        out = []
        for k, item in enumerate(pending):
            a = warp(key_a, forward[k])
            thumb = item.frame.thumbnail(*self._grid.shape[:2])[None]
            err_a = match_error(thumb_a, forward[k:k + 1], thumb)[0]
            if k >= n - m:
                b, err_b = warp(self._key, back[k]), match_error(self.key_thumb, back[k:k + 1], thumb)[0]
                counts = counts_a + self.key_counts
            else:
                b, err_b, counts = a, err_a, counts_a
            self.held_frames.append((item.frame.index, a, b, err_a, err_b, float(wb[k]), thumb[0], counts))
            out.append(self._emit_hwc(item.frame, wa[k] * a + wb[k] * b, item.t0))
        return out


def _box3(x):
    p = np.pad(x, 1, mode="edge")
    return sum(p[i:i + x.shape[0], j:j + x.shape[1]] for i in range(3) for j in range(3)) / 9.0


def _margin(scores):
    top = np.sort(scores, axis=-1)
    return top[..., -1] - top[..., -2]


def _boundary(scores):
    lab = scores.argmax(-1)
    p = np.pad(lab, 1, mode="edge")
    return ((p[:-2, 1:-1] != lab).astype(np.float64) + (p[2:, 1:-1] != lab) + (p[1:-1, :-2] != lab)
            + (p[1:-1, 2:] != lab)) / 4.0


def features(a, b, err_a, err_b, wb):
    """(h, w, 8) per-cell inputs of the learned rule."""
    ea, eb = err_a / 16.0, err_b / 16.0
    with np.errstate(divide="ignore"):
        prior = np.log(wb / (1.0 - wb)) if wb > 0 else -30.0
    cols = [np.ones_like(ea), np.full_like(ea, prior), ea - eb, ea + eb, _box3(ea - eb),
            _margin(b) - _margin(a), _boundary(a), _boundary(b)]
    return np.stack(cols, -1).astype(np.float64)


def fit_logistic(x, y, weight, *, l2=1e-3, iters=30):
    """Weighted L2-regularised logistic regression by Newton steps."""
    theta = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(x @ theta)))
        grad = x.T @ (weight * (p - y)) / weight.sum() + l2 * theta
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x / weight.sum() + l2 * np.eye(len(theta))
        theta -= np.linalg.solve(hess, grad)
    return theta


def _scores(truth: dict, classes: int, labels: dict, held=frozenset()) -> tuple[float, float]:
    """avg / min mIoU of label maps by frame index, counted by edgeseg.benchmark's scorer (held: non-keyframes)."""
    scorer = _Scorer(truth.__getitem__, classes)
    for index in sorted(labels):
        scorer(SimpleNamespace(frame=SimpleNamespace(index=index), labels=labels[index], keyframe=index not in held))
    return scorer.scores()


class ClipData:
    def __init__(self, clip: Path, nets, bundle, k: int):
        self.classes = len(bundle.classes)
        video = str(clip / "video.mp4") if clip.is_dir() else str(clip)
        self.name = clip.name if clip.is_dir() else clip.stem
        frame_labels: dict[int, np.ndarray] = {}
        seg = StreamSegmenter(nets, mode="frame", policy=FixedInterval(interval=1), model_hw=bundle.input_hw,
                              mean=bundle.mean, std=bundle.std)
        with open_source(video) as src:
            run_stream(motion_pairs(src, mode="frame"), seg,
                       on_result=lambda r: frame_labels.__setitem__(r.frame.index, r.labels))
        if clip.is_dir():  # read once: every rule scores every frame
            ground_truth = LabelDir(clip / "labels")
            self.truth = {i: ground_truth[i] for i in frame_labels}
        else:
            self.truth = frame_labels
        self.frame_miou = _scores(self.truth, self.classes, frame_labels)[0]
        self._ab_hits: dict[int, tuple] = {}
        self.keys: dict[int, np.ndarray] = {}
        self.seg = Capture(nets, policy=FixedInterval(interval=k), model_hw=bundle.input_hw, mean=bundle.mean,
                           std=bundle.std)
        with open_source(video, export_mvs=True) as src:
            run_stream(motion_pairs(src, mode="interp"), self.seg,
                       on_result=lambda r: self.keys.__setitem__(r.frame.index, r.labels) if r.keyframe else None)
        (H, W), (h, w) = self.truth[0].shape, self.seg._grid.shape[:2]  # each pixel's warp-grid cell
        self.cells = h * w
        self.cell_of = ((np.arange(H) * h // H)[:, None] * w + (np.arange(W) * w // W)[None, :]).ravel()

    def labels(self, scores_hwk):
        return self.seg._to_warp_labels(np.ascontiguousarray(scores_hwk.transpose(2, 0, 1)))

    def cell_hits(self, labels, index):
        """Pixels labelled right per warp-grid cell."""
        right = (labels == self.truth[index]).ravel()
        return np.bincount(self.cell_of, weights=right, minlength=self.cells).reshape(self.seg._grid.shape[:2])

    def ab_hits(self, index, a, b):
        """cell_hits of keyframe a's and keyframe b's labels for a held frame (kept: the rules share them)."""
        if index not in self._ab_hits:
            self._ab_hits[index] = self.cell_hits(self.labels(a), index), self.cell_hits(self.labels(b), index)
        return self._ab_hits[index]

    def training_set(self):
        """Cells where a and b label a different number of pixels right: (features, b better, |difference|)."""
        xs, ys, ws = [], [], []
        for index, a, b, ea, eb, wb, *_ in self.seg.held_frames:
            if wb == 0:
                continue
            ha, hb = self.ab_hits(index, a, b)
            differ = ha != hb
            xs.append(features(a, b, ea, eb, wb)[differ])
            ys.append((hb > ha)[differ])
            ws.append(np.abs(hb - ha)[differ])
        return np.concatenate(xs), np.concatenate(ys).astype(np.float64), np.concatenate(ws).astype(np.float64)

    def fused(self, rule: str, theta=None):
        """Scores (h, w, K) per held frame under a rule."""
        for index, a, b, ea, eb, wb, thumb, counts in self.seg.held_frames:
            if rule == "linear":
                yield index, (1.0 - wb) * a + wb * b
            elif rule in ("photometric", "colour"):
                fused = mix(a.copy(), b, photometric_weights(np.array([wb]), ea[None], eb[None])[0])
                if rule == "colour":  # + log P(class | colour), add-one smoothed over the classes
                    k = counts.shape[1]
                    posterior = (counts + 1.0 / k) / (counts.sum(axis=1, keepdims=True) + 1.0)
                    fused += (COLOUR_WEIGHT * np.log(posterior[colour_bins(thumb)])).astype(np.float32)
                yield index, fused
            elif rule == "learned":
                weight = 1.0 / (1.0 + np.exp(-(features(a, b, ea, eb, wb) @ theta))) if wb > 0 else np.zeros(ea.shape)
                yield index, mix(a.copy(), b, weight.astype(np.float32))
            else:  # oracle
                choices = [a, b, (1.0 - wb) * a + wb * b]
                hits = np.stack([*self.ab_hits(index, a, b), self.cell_hits(self.labels(choices[2]), index)])
                yield index, np.choose(hits.argmax(0)[..., None], choices)

    def score(self, rule: str, theta=None) -> tuple[float, float]:
        held = {index: self.labels(scores) for index, scores in self.fused(rule, theta)}
        return _scores(self.truth, self.classes, {**self.keys, **held}, frozenset(held))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", type=Path)
    ap.add_argument("-k", "--interval", type=int, default=10)
    ap.add_argument("--model", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    nets, bundle = open_networks(args.model, backend="ort-cpu", threads=2)
    data = [ClipData(c, nets, bundle, args.interval) for c in args.clips]
    sets = [d.training_set() for d in data]
    rows = []
    print(f"{'clip':<14} {'frame':>6} " + " ".join(f"{r + ' avg/min':>20}" for r in RULES))
    for i, d in enumerate(data):
        others = [s for j, s in enumerate(sets) if j != i] or [sets[i]]  # one clip: fitted on itself
        theta = fit_logistic(*(np.concatenate(part) for part in zip(*others, strict=True)))
        row = {"clip": d.name, "interval": args.interval, "frame": round(d.frame_miou, 2),
               "learned_theta": [round(float(t), 4) for t in theta]}
        for rule in RULES:
            avg, worst = d.score(rule, theta)
            row[rule] = [round(avg, 2), round(worst, 2)]
        rows.append(row)
        print(f"{d.name:<14} {d.frame_miou:>6.1f} "
              + " ".join(f"{row[r][0]:>12.1f} / {row[r][1]:>5.1f}" for r in RULES), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
