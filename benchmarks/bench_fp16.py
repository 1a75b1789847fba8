"""fp16 label parity of exported bundles with random weights and with briefly trained weights, per architecture.

    nice python benchmarks/bench_fp16.py [--archs smp:FPN:mobilenet_v2,fcn_resnet50] [--iters 400] [--json out.json]

The export's own parity test (docs/EXPORT.md, "Parity check") runs on random weights with calibrated
BatchNorm statistics, where untrained deep networks amplify fp16 rounding and a few architectures fall
short of 99 %. No trained weights can be downloaded, so this trains each model here: 6 synthetic street
clips (edgeseg.synth, seeds 100–105, 20 frames each at 96×128, encoded and decoded), AdamW lr 2e-3, batch 8
of whole frames, `--iters` steps, 2 torch threads, seed 0. Each model is then exported exactly as
`edgeseg export NAME --weights W --precision fp16` (no engines) and its manifest's fp16 parity is read: fp16
chain labels vs fp32 chain labels (onnxruntime CPU), on 2 decoded frames of the last clip (--calib) and on the
export's 2 smooth random images. The random-weight row is the same architecture with calibrated BatchNorm
(edgeseg_export.parity.calibrate_norms), as the tests build it. Pixel accuracy is on every 7th training frame
(these are short runs, not models to ship).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = (96, 128)


def frames(root: Path):
    """(images N×H×W×3, labels N×H×W) uint8 of 6 rendered, encoded and decoded clips; the last clip's video."""
    import av

    from edgeseg.synth.clip import render_clip

    imgs, labs, video = [], [], None
    for seed in range(100, 106):
        clip = render_clip(root / f"c{seed}", frames=20, seed=seed, size=SIZE, fps=10, preset="veryfast")
        with av.open(str(clip.video)) as c:
            imgs += [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        labs += [clip.labels(i) for i in range(20)]
        video = clip.video
    return np.stack(imgs), np.stack(labs), video


def train(name: str, images, labels, iters: int, classes: int):
    import torch
    from edgeseg_export import zoo

    torch.manual_seed(0)
    model = zoo.build(name, num_classes=classes, warn=lambda _m: None).model
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def batch(idx):
        return (torch.from_numpy(images[idx]).permute(0, 3, 1, 2).float() / 255 - mean) / std

    def logits(x):
        out = model(x)
        return out["out"] if isinstance(out, dict) else out

    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    model.train()
    for _ in range(iters):
        idx = rng.integers(len(images), size=8)
        loss = torch.nn.functional.cross_entropy(logits(batch(idx)), torch.from_numpy(labels[idx]).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((logits(batch(np.arange(0, len(images), 7))).argmax(1).numpy() == labels[::7]).mean())
    return model, acc, float(loss.detach())


def fp16_parity(name: str, model, tmp: Path, classes: int, calib: str | None) -> float:
    import torch
    from edgeseg_export.pipeline import export

    torch.save(model.state_dict(), tmp / "w.pt")
    out = tmp / ("b-calib" if calib else "b")
    path = export(name, out=out, weights=tmp / "w.pt", num_classes=classes, input_size=SIZE, precision="fp16",
                  engines=False, log=lambda _m: None, check_fp16=False, calib=calib)
    return json.loads(path.read_text())["parity"]["fp16"]["label_agreement"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="smp:FPN:mobilenet_v2,smp:DeepLabV3Plus:resnet18,"
                                       "deeplabv3_mobilenet_v3_large,fcn_resnet50")
    ap.add_argument("--iters", type=int, default=400)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import torch
    from edgeseg_export import zoo
    from edgeseg_export.parity import calibrate_norms

    torch.set_num_threads(2)
    rows = []
    print("| model | random weights: fp16 % (smooth images) | trained: pixel acc % | trained: fp16 % "
          "(frames / smooth images) | train s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        images, labels, video = frames(Path(tmp))
        classes = int(labels.max()) + 1
        for name in args.archs.split(","):
            d = Path(tmp) / name.replace(":", "_")
            d.mkdir()
            torch.manual_seed(0)
            random = zoo.build(name, num_classes=classes, warn=lambda _m: None).model
            calibrate_norms(random, SIZE, images=2)
            r = fp16_parity(name, random, d, classes, None)
            t0 = time.perf_counter()
            model, acc, loss = train(name, images, labels, args.iters, classes)
            secs = time.perf_counter() - t0
            on_frames = fp16_parity(name, model, d, classes, str(video))
            on_smooth = fp16_parity(name, model, d, classes, None)
            row = {"model": name, "random_fp16": r, "pixel_acc": acc, "loss": loss, "trained_fp16_frames": on_frames,
                   "trained_fp16_smooth": on_smooth, "train_s": round(secs, 1), "iters": args.iters}
            rows.append(row)
            print(f"| {name} | {100 * r:.2f} | {100 * acc:.1f} | {100 * on_frames:.2f} / {100 * on_smooth:.2f} | "
                  f"{secs:.0f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
