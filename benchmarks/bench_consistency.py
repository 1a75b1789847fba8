"""Temporal consistency per mode on clips without labels: how often a pixel's label survives to the next frame.

    python benchmarks/bench_consistency.py CLIP [CLIP ...] [--modes frame,prop,interp] [-k 10]
        [--fusion linear,photometric] [--guide off,on] [--max-frames N] [--json OUT]

For each pair of consecutive frames, OpenCV's DIS optical flow (an estimator independent of the block motion
the propagating modes use) maps every pixel of frame t to frame t-1; the score is the share of pixels whose
label in frame t equals the label at the mapped position in frame t-1 (pixels mapped outside the frame are
left out), averaged over the frames. Frame mode's own score is the baseline: a mode that flickers more than
the full model scores lower. Needs the `bench` extra (OpenCV).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edgeseg.backend import open_networks
from edgeseg.pipeline import SegmentSpec, open_for, segment_frames


def flows(clip: str, max_frames: int | None) -> tuple[list[np.ndarray], tuple[int, int]]:
    """(H, W, 2) float32 flow from each frame t ≥ 1 back to frame t-1 (DIS, medium preset)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    out, prev, size = [], None, None
    with open_for(SegmentSpec(mode="frame"), clip) as src:
        for frame in src:
            gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
            size = gray.shape
            if prev is not None:
                out.append(dis.calc(gray, prev, None))
            prev = gray
            if max_frames and len(out) + 1 >= max_frames:
                break
    return out, size


def consistency(labels: list[np.ndarray], flow: list[np.ndarray]) -> float:
    """Mean over t of the share of in-frame pixels whose label equals frame t-1's at p + flow(p)."""
    h, w = labels[0].shape
    ys, xs = np.mgrid[0:h, 0:w]
    shares = []
    for t in range(1, min(len(labels), len(flow) + 1)):
        x = np.rint(xs + flow[t - 1][..., 0]).astype(np.intp)
        y = np.rint(ys + flow[t - 1][..., 1]).astype(np.intp)
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        prev = labels[t - 1][np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
        shares.append(float((prev == labels[t])[inside].mean()))
    return float(np.mean(shares))


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
    for clip in a.clips:
        flow, _ = flows(clip, a.max_frames)
        for mode in a.modes.split(","):
            for fusion, guide in [(f, g == "on") for f in (a.fusion.split(",") if mode == "interp" else ["linear"])
                                  for g in a.guide.split(",")]:
                spec = SegmentSpec(mode=mode, keyframe_interval=1 if mode == "frame" else a.k, fusion=fusion,
                                   guide=guide)
                labels = []
                for result in segment_frames(clip, spec, nets=nets, bundle=bundle):
                    labels.append(result.labels)
                    if a.max_frames and len(labels) >= a.max_frames:
                        break
                rows.append({"clip": Path(clip).name, "mode": mode, "interval": spec.keyframe_interval,
                             "fusion": fusion, "guide": guide, "frames": len(labels),
                             "consistency": consistency(labels, flow)})
                print(f"{Path(clip).name:<28} {mode:<7} {fusion:<12} {'guided' if guide else 'plain':<7} "
                      f"K={spec.keyframe_interval:<3} "
                      f"{100 * rows[-1]['consistency']:6.2f} %", flush=True)
    if a.json is not None:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
