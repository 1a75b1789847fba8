"""Temporal consistency per mode on clips without labels: TC (Liu et al., ECCV 2020) along DIS optical flow.

    python benchmarks/bench_consistency.py CLIP [CLIP ...] [--modes frame,prop,interp] [-k 10]
        [--fusion linear,photometric] [--guide off,on] [--max-frames N] [--json OUT]

For each pair of consecutive frames t, t+1, OpenCV's DIS optical flow (preset medium; an estimator independent
of the block motion the propagating modes use) from frame t to frame t+1 brings the labels of frame t+1 back to
frame t (nearest pixel, no occlusion mask); per-class intersection and union of the two label maps are summed
over the clip, and TC is their mean IoU in percent (definitions: edgeseg/bench/consistency.py). "agreement" is
the share of pixels whose label equals the warped next label, from the same warp. Frame mode's own score is the
baseline: a mode that flickers more than the full model scores lower. The flow is computed once per clip and
kept as one index map per pair (4 bytes a pixel). Needs the `bench` extra (OpenCV).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from edgeseg.backend import open_networks
from edgeseg.bench.consistency import DIS_PRESET, TemporalConsistency, pair_indices, warp_labels
from edgeseg.pipeline import SegmentSpec, open_for, segment_frames


def clip_indices(clip: str, max_frames: int | None) -> list[np.ndarray]:
    """warp_indices of the DIS flow from each frame t to t+1, over the first max_frames frames."""
    def images():
        with open_for(SegmentSpec(mode="frame"), clip) as src:
            for i, frame in enumerate(src):
                if max_frames and i >= max_frames:
                    return
                yield frame.image

    return list(pair_indices(images()))


def clip_tc(labels, indices: list[np.ndarray], num_classes: int) -> tuple[TemporalConsistency, int]:
    """TC of a stream of label maps (one per frame, in display order); also returns the frame count."""
    tc, prev, frames = TemporalConsistency(num_classes=num_classes), None, 0
    for t, current in enumerate(labels):
        if prev is not None and t - 1 < len(indices):
            tc.add(prev, warp_labels(current, indices[t - 1]))
        prev, frames = current, frames + 1
    return tc, frames


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"  # None: a clip of one frame has no pair


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--modes", default="frame,prop,interp")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--fusion", default="linear,photometric")
    ap.add_argument("--guide", default="off,on", help="labels guided by the pixels: off, on or both")
    ap.add_argument("--max-frames", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    nets, bundle = open_networks(None, backend="ort-cpu", threads=a.threads)
    rows = []
    print(f"{'clip':<28} {'mode':<7} {'fusion':<12} {'labels':<7} {'K':<5} {'TC %':>7} {'agreement %':>12}")
    for clip in a.clips:
        indices = clip_indices(clip, a.max_frames)
        for mode in a.modes.split(","):
            for fusion, guide in [(f, g == "on") for f in (a.fusion.split(",") if mode == "interp" else ["linear"])
                                  for g in a.guide.split(",")]:
                spec = SegmentSpec(mode=mode, keyframe_interval=1 if mode == "frame" else a.k, fusion=fusion,
                                   guide=guide)
                results = segment_frames(clip, spec, nets=nets, bundle=bundle)
                labels = (r.labels for r in itertools.islice(results, a.max_frames))
                tc, frames = clip_tc(labels, indices, len(bundle.classes))
                rows.append({"clip": Path(clip).name, "mode": mode, "interval": spec.keyframe_interval,
                             "fusion": fusion, "guide": guide, "frames": frames, "flow": f"DIS {DIS_PRESET}",
                             "tc": tc.score(), "agreement": tc.agreement()})
                print(f"{Path(clip).name:<28} {mode:<7} {fusion:<12} {'guided' if guide else 'plain':<7} "
                      f"{spec.keyframe_interval:<5} {_pct(rows[-1]['tc']):>7} {_pct(rows[-1]['agreement']):>12}",
                      flush=True)
    if a.json is not None:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
