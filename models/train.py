"""Train the reference DeepLab (models/reference.py) on `edgeseg synth` video, on CPU.

Usage: ``nice -n 19 python -m edgeseg_models.train [--iters 6500] [--out models/reference]``

Data (all rendered by this script, seeds fixed, nothing downloaded):
- training: 16 clips, seeds 100..115, 60 frames each at 10 fps (so consecutive frames differ more),
  360×480, encoded with libx264 (B-frames 3, CRF cycling 20/24/28/32 by clip) and decoded back with PyAV,
  so the model learns on the compression artefacts it will see; speed and traffic vary by clip, clip 3 and 11
  have a scene cut. 960 frames held in memory as uint8.
- held-out evaluation: 3 clips, seeds 900..902 (never used for training), 60 frames each at 30 fps, CRF 23,
  B-frames 3, decoded; every frame is segmented at native size and scored.
Schedule: AdamW (lr 2e-3, weight decay 1e-4), one-cycle cosine, batch 8 random crops 288×384 after a random
rescale in [0.75, 1.25], horizontal flips and brightness/contrast jitter; class-weighted cross entropy
(inverse square-root frequency, clipped to [0.5, 8]); 2 torch threads; torch seed 0; model and batches in
channels-last (NHWC) layout, 1.5× faster steps than NCHW on this CPU (6500 iterations: 49 min, 52 min with
the data, in the run that made the shipped weights).
After the last iteration BatchNorm statistics are re-estimated on full decoded frames (MobileNetV3's BN
momentum 0.01 lags a short schedule). ``--recalibrate W`` does only that for a saved state dict and
``--evaluate W`` only scores one on the held-out clips.
Outputs: OUT/weights.pt (state dict), OUT/train_log.json (data, schedule, loss curve, held-out mIoU:
mean of per-frame mIoU, and mIoU of the summed confusion, per-class IoU).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TRAIN_SEEDS = list(range(100, 116))
TRAIN_FRAMES, TRAIN_FPS = 60, 10.0
EVAL_SEEDS = [900, 901, 902]
EVAL_FRAMES, EVAL_FPS = 60, 30.0
CROP = (288, 384)


def decode(video: Path) -> np.ndarray:
    """All frames of a video in display order as N×H×W×3 uint8 (PyAV software decoding)."""
    import av

    with av.open(str(video)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def render_set(root: Path, seeds, *, frames: int, fps: float, crfs, scene_for) -> tuple[np.ndarray, np.ndarray]:
    """Render, encode and decode clips; returns (images N×H×W×3, labels N×H×W) uint8."""
    from edgeseg.synth.clip import render_clip

    imgs, labs = [], []
    for k, seed in enumerate(seeds):
        clip = render_clip(root / f"clip-{seed}", frames=frames, seed=seed, fps=fps, crf=crfs[k % len(crfs)],
                           bframes=3, **scene_for(k))
        video = decode(clip.video)
        if len(video) != frames:
            raise RuntimeError(f"{clip.video}: decoded {len(video)} frames, rendered {frames}")
        imgs.append(video)
        labs.append(np.stack([clip.labels(i) for i in range(frames)]))
        print(f"  clip seed {seed}: {frames} frames", flush=True)
    return np.concatenate(imgs), np.concatenate(labs)


def _train_scene(k: int) -> dict:
    speeds = [8.0, 4.0, 12.0, 6.0, 15.0, 2.0, 10.0, 8.0]
    scene = {"speed": speeds[k % len(speeds)], "traffic": [1.0, 1.5, 0.7, 2.0][k % 4]}
    if k in (3, 11):
        scene["cuts"] = (30,)
    return scene


def _batch(images, labels, rng, torch, mean, std, batch: int):
    import torch.nn.functional as F

    n, h, w = labels.shape
    ch, cw = CROP
    xs, ys = [], []
    for _ in range(batch):
        i = int(rng.integers(n))
        s = float(rng.uniform(0.75, 1.25))
        sh, sw = max(int(round(ch / s)), 8), max(int(round(cw / s)), 8)  # source window, resized to the crop
        sh, sw = min(sh, h), min(sw, w)
        y0, x0 = int(rng.integers(h - sh + 1)), int(rng.integers(w - sw + 1))
        img = torch.from_numpy(images[i, y0:y0 + sh, x0:x0 + sw]).permute(2, 0, 1)[None].float()
        lab = torch.from_numpy(labels[i, y0:y0 + sh, x0:x0 + sw])[None, None].float()
        img = F.interpolate(img, size=CROP, mode="bilinear", align_corners=False)
        lab = F.interpolate(lab, size=CROP, mode="nearest")
        if rng.random() < 0.5:
            img, lab = img.flip(-1), lab.flip(-1)
        img = img * float(rng.uniform(0.75, 1.25)) + float(rng.uniform(-20, 20))
        xs.append(img)
        ys.append(lab)
    x = torch.cat(xs).clamp(0, 255) / 255.0
    x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)  # the model's layout (see main)
    return x, torch.cat(ys)[:, 0].long()


def evaluate(model, images, labels, torch, mean, std, num_classes: int) -> dict:
    """Per-frame mIoU (mean over frames), mIoU of the summed confusion, per-class IoU; percentages."""
    from edgeseg.bench.metrics import confusion, iou_per_class, miou

    model.eval()
    total = np.zeros((num_classes, num_classes), np.int64)
    per_frame = []
    with torch.no_grad():
        for i in range(0, len(images), 4):
            x = torch.from_numpy(images[i:i + 4]).permute(0, 3, 1, 2).float() / 255.0
            pred = model((x - mean) / std)["out"].argmax(1).numpy().astype(np.uint8)
            for p, t in zip(pred, labels[i:i + 4], strict=True):
                cm = confusion(p, t, num_classes=num_classes)
                per_frame.append(miou(cm))
                total += cm
    model.train()
    return {"miou_per_frame": float(np.mean(per_frame)), "miou_total": miou(total),
            "iou_per_class": [round(float(v) * 100, 2) for v in iou_per_class(total)], "frames": len(per_frame)}


def recalibrate_bn(model, images, torch, mean, std) -> None:
    """Re-estimate BatchNorm running statistics as exact averages over full decoded frames (no grad).

    MobileNetV3's BatchNorm momentum is 0.01: on a short CPU schedule the running statistics lag the weights
    and eval-mode output collapses; averaging fresh batch statistics over real frames fixes that.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average
    model.train()
    with torch.no_grad():
        for i in range(0, len(images), 4):
            x = torch.from_numpy(images[i:i + 4]).permute(0, 3, 1, 2).float() / 255.0
            model((x - mean) / std)
    for bn in bns:
        bn.momentum = 0.01
    model.eval()


def _saved_model(path, args):
    """(model with the state dict at `path`, torch, mean, std, output dir) for the --evaluate/--recalibrate modes."""
    import torch
    from edgeseg_models.reference import CLASSES, MEAN, STD, WEIGHTS_PATH, build_model

    torch.set_num_threads(args.threads)
    model = build_model(len(CLASSES))
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return model, torch, mean, std, args.out or WEIGHTS_PATH.parent


def recalibrate_only(args) -> None:
    """Load WEIGHTS, recalibrate BatchNorm on training clips (seeds 100, 101; every 2nd frame), save OUT/weights.pt."""
    model, torch, mean, std, out = _saved_model(args.recalibrate, args)
    with tempfile.TemporaryDirectory(prefix="edgeseg-recal-") as tmp:
        images, _ = render_set(Path(tmp), TRAIN_SEEDS[:2], frames=TRAIN_FRAMES, fps=TRAIN_FPS, crfs=[20, 24],
                               scene_for=_train_scene)
    recalibrate_bn(model, images[::2], torch, mean, std)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "weights.pt")
    print(f"recalibrated BatchNorm on {len(images[::2])} frames → {out / 'weights.pt'}", flush=True)


def evaluate_only(args) -> None:
    """Score a saved state dict on the held-out clips (same data and metric as the end of training)."""
    from edgeseg_models.reference import CLASSES

    model, torch, mean, std, out = _saved_model(args.evaluate, args)
    with tempfile.TemporaryDirectory(prefix="edgeseg-eval-") as tmp:
        images, labels = render_set(Path(tmp), EVAL_SEEDS, frames=args.eval_frames, fps=EVAL_FPS, crfs=[23],
                                    scene_for=lambda k: {})
    result = evaluate(model, images, labels, torch, mean, std, len(CLASSES))
    result["weights"] = str(args.evaluate)
    print(f"held-out: per-frame mIoU {result['miou_per_frame']:.2f}%, total mIoU {result['miou_total']:.2f}%, "
          f"per class {dict(zip(CLASSES, result['iou_per_class'], strict=True))}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "heldout_eval.json").write_text(json.dumps(result, indent=1) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=6500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--out", type=Path, default=None, help="output directory (default: models/reference)")
    ap.add_argument("--train-clips", type=int, default=len(TRAIN_SEEDS))
    ap.add_argument("--eval-frames", type=int, default=EVAL_FRAMES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--evaluate", type=Path, default=None, metavar="WEIGHTS",
                    help="only score WEIGHTS on the held-out clips (writes OUT/heldout_eval.json)")
    ap.add_argument("--recalibrate", type=Path, default=None, metavar="WEIGHTS",
                    help="only re-estimate WEIGHTS' BatchNorm statistics and save OUT/weights.pt")
    args = ap.parse_args(argv)
    if args.recalibrate is not None:
        return recalibrate_only(args)
    if args.evaluate is not None:
        return evaluate_only(args)

    import torch
    from edgeseg_models.reference import CLASSES, MEAN, STD, WEIGHTS_PATH, build_model

    out = args.out or WEIGHTS_PATH.parent
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    k = len(CLASSES)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="edgeseg-train-") as tmp:
        print("rendering training clips", flush=True)
        images, labels = render_set(Path(tmp) / "train", TRAIN_SEEDS[:args.train_clips], frames=TRAIN_FRAMES,
                                    fps=TRAIN_FPS, crfs=[20, 24, 28, 32], scene_for=_train_scene)
        print("rendering held-out clips", flush=True)
        ev_images, ev_labels = render_set(Path(tmp) / "eval", EVAL_SEEDS, frames=args.eval_frames, fps=EVAL_FPS,
                                          crfs=[23], scene_for=lambda k: {})
    t_data = time.time() - t0
    freq = np.bincount(labels.ravel(), minlength=k).astype(np.float64)
    freq /= freq.sum()
    weights = np.clip(1.0 / np.sqrt(np.maximum(freq, 1e-6) * k), 0.5, 8.0)
    print(f"data ready in {t_data:.0f}s: {len(images)} train frames; class freq {np.round(freq, 4).tolist()}",
          flush=True)

    model = build_model(k).to(memory_format=torch.channels_last)  # NHWC: 1.5× faster steps on CPU here
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iters, pct_start=0.08)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32))
    losses = []
    t1 = time.time()
    for it in range(args.iters):
        x, y = _batch(images, labels, rng, torch, mean, std, args.batch)
        loss = loss_fn(model(x)["out"], y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if it % 50 == 0 or it == args.iters - 1:
            el = time.time() - t1
            print(f"iter {it}/{args.iters} loss {np.mean(losses[-50:]):.4f} {el:.0f}s "
                  f"({el / (it + 1):.2f}s/iter)", flush=True)
    t_train = time.time() - t1
    recalibrate_bn(model, images[::4], torch, mean, std)
    torch.save({name: t.contiguous() for name, t in model.state_dict().items()}, out / "weights.pt")
    result = evaluate(model, ev_images, ev_labels, torch, mean, std, k)
    print(f"held-out: per-frame mIoU {result['miou_per_frame']:.2f}%, total mIoU {result['miou_total']:.2f}%, "
          f"per class {dict(zip(CLASSES, result['iou_per_class'], strict=True))}", flush=True)
    log = {
        "command": "python -m edgeseg_models.train " + " ".join(sys.argv[1:] if argv is None else argv),
        "classes": CLASSES,
        "data": {"train_seeds": TRAIN_SEEDS[:args.train_clips], "train_frames_per_clip": TRAIN_FRAMES,
                 "train_fps": TRAIN_FPS, "eval_seeds": EVAL_SEEDS, "eval_frames_per_clip": args.eval_frames,
                 "eval_fps": EVAL_FPS, "size": list(images.shape[1:3]), "class_freq": freq.round(5).tolist()},
        "schedule": {"iters": args.iters, "batch": args.batch, "crop": list(CROP), "optimizer": "AdamW",
                     "lr": args.lr, "weight_decay": 1e-4, "lr_schedule": "one-cycle cosine, 8% warm-up",
                     "class_weights": weights.round(3).tolist(), "threads": args.threads},
        "seconds": {"data": round(t_data, 1), "train": round(t_train, 1), "total": round(time.time() - t0, 1)},
        "loss_every_50": [round(float(np.mean(losses[i:i + 50])), 4) for i in range(0, len(losses), 50)],
        "heldout": result,
    }
    (out / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"saved {out / 'weights.pt'} and train_log.json in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
