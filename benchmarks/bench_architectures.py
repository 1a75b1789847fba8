"""Per architecture and input size: split point, feature / task cost, warp + fusion, interp ceiling, parity.

Usage: ``nice python benchmarks/bench_architectures.py --sizes 512x1024,360x480 --json arch.json``

Each model is built with random weights whose BatchNorm statistics are set on smooth random images
(edgeseg_export.parity) and exported exactly as ``edgeseg export NAME --precision fp16`` does, into a
temporary bundle; the figures are the ones export measures and records in the manifest: onnxruntime CPU ms
(2 threads, batch 1, median of 5) and counted GFLOPs of the feature and task networks, the auto split, the
feature stride × channels, interp's warp + fusion per frame (the runtime's kernel at the feature grid, on the
K class scores when the task network is a 1×1 conv, else on the C features), the interp K = 10 ceiling
(edgeseg_export.warpcost.interp_ceiling) and label parity (torch vs feature → task_labels ONNX; fp16 vs fp32).
smp models need H, W divisible by their encoder's output stride (32): 360×480 runs as 352×480 for them.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

ARCHS = ("smp:DeepLabV3Plus:resnet18", "smp:FPN:mobilenet_v2", "smp:Unet:efficientnet-b0", "segformer-b0",
         "segformer-b2", "lraspp_mobilenet_v3_large", "fcn_resnet50", "deeplabv3_mobilenet_v3_large")


def measure(name: str, hw: tuple[int, int], classes: int) -> dict:
    import torch
    from edgeseg_export import zoo
    from edgeseg_export.parity import calibrate_norms
    from edgeseg_export.pipeline import export

    spec = zoo.build(name, num_classes=classes, warn=lambda _m: None)
    stride = (spec.info or {}).get("output_stride")
    if stride:
        hw = (hw[0] // stride * stride, hw[1] // stride * stride)
    torch.manual_seed(0)
    calibrate_norms(spec.model, hw, images=2)
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(spec.model.state_dict(), Path(tmp) / "w.pt")
        t0 = time.perf_counter()
        path = export(name, out=Path(tmp) / "b", weights=Path(tmp) / "w.pt", num_classes=classes, input_size=hw,
                      precision="fp16", engines=False, log=lambda _m: None, check_fp16=False)
        m = json.loads(path.read_text())
    c, p = m["cost"], m["parity"]
    return {"model": name, "input": f"{hw[0]}x{hw[1]}", "split": m["split"]["point"],
            "feature_ms": c["feature_ms"], "task_ms": c["task_ms"], "feature_gflops": c["feature_gflops"],
            "task_gflops": c["task_gflops"], "task_share": c["task_share"], "stride": m["feature"]["stride"],
            "channels": m["feature"]["channels"], "warp_space": c["warp"]["space"], "warp_ms": c["warp"]["ms"],
            "interp_k10_ceiling": c["interp_ceiling"], "parity_fp32": p["task_labels_agreement"],
            "parity_fp16": p["fp16"]["label_agreement"], "export_s": round(time.perf_counter() - t0, 1)}


def row(r: dict) -> str:
    return (f"| {r['model']} | {r['input']} | {r['split']} | {r['feature_ms']:.1f} / {r['feature_gflops']:.2f} | "
            f"{r['task_ms']:.2f} / {r['task_gflops']:.3f} | {r['stride']} × {r['channels']} | "
            f"{r['warp_ms']:.3f} ({r['warp_space']}) | {r['interp_k10_ceiling']:.2f}× | "
            f"{100 * r['parity_fp32']:.2f} / {100 * r['parity_fp16']:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default=",".join(ARCHS))
    ap.add_argument("--sizes", default="512x1024,360x480")
    ap.add_argument("--classes", type=int, default=19)
    ap.add_argument("--json", type=Path, default=None, help="Write the rows here (appended as they finish).")
    args = ap.parse_args()
    from edgeseg_export.pipeline import parse_input_size

    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
          f"{args.classes} classes, random weights (calibrated BatchNorm)")
    print("| model | input | split | feature ms / GFLOP | task ms / GFLOP | stride × channels | "
          "warp + fusion ms (space) | interp K=10 ceiling | parity fp32 / fp16 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for size in args.sizes.split(","):
        for name in args.archs.split(","):
            r = measure(name, parse_input_size(size), args.classes)
            rows.append(r)
            print(row(r), flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
