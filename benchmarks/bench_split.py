"""Cost split of feature vs task network at every split point (onnxruntime CPU ms + counted GFLOPs).

Usage: ``nice python benchmarks/bench_split.py --model reference --input-size 360x480 --threads 2``

Also times the two ways to get labels at full resolution from the task network's scores: the
``task_labels.onnx`` graph (bilinear Resize of all K scores + ArgMax) vs task at feature resolution alone.
Random weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="reference")
    ap.add_argument("--input-size", default=None, help="HxW (default: the model's)")
    ap.add_argument("--num-classes", type=int, default=None, help="Needed for smp and SegFormer models.")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import torch
    from edgeseg_export import onnxio, split, zoo
    from edgeseg_export.pipeline import parse_input_size

    spec = zoo.build(args.model, num_classes=args.num_classes, warn=lambda _m: None)
    hw = parse_input_size(args.input_size) if args.input_size else spec.input_size
    table = split.costs(spec.staged, hw)
    x = np.random.default_rng(0).standard_normal((1, 3, *hw)).astype(np.float32)
    print(f"{args.model} {hw[0]}x{hw[1]}, onnxruntime CPU {args.threads} threads, batch 1, median of {args.repeat}")
    print("| split point | feature ms | task ms (feature res.) | task + upsample + argmax ms | feature GFLOP | task GFLOP | task share (FLOPs) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        tmp = Path(tmp)
        for c in table:
            feat, task = split.split_model(spec.staged, c.point)
            xt = torch.from_numpy(x)
            f = feat(xt)
            onnxio.to_onnx(feat, xt, tmp / "f.onnx", input_name="image", output_name="feature")
            onnxio.to_onnx(task, f, tmp / "t.onnx", input_name="feature", output_name="scores")
            onnxio.to_onnx(split.labels_net(task, hw, spec.staged.align_corners), f, tmp / "l.onnx", input_name="feature", output_name="labels")
            fn = f.numpy()
            fm = onnxio.time_ms(onnxio.session(tmp / "f.onnx", args.threads), {"image": x}, args.repeat)
            tm = onnxio.time_ms(onnxio.session(tmp / "t.onnx", args.threads), {"feature": fn}, args.repeat)
            lm = onnxio.time_ms(onnxio.session(tmp / "l.onnx", args.threads), {"feature": fn}, args.repeat)
            print(f"| {c.point} | {fm:.1f} | {tm:.2f} | {lm:.2f} | {c.feature_gflops:.3f} | {c.task_gflops:.4f} "
                  f"| {c.task_share:.1%} |")
    point, _ = split.auto_split(spec.staged, hw)
    print(f"--split auto → {point}")


if __name__ == "__main__":
    main()
