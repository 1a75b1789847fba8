"""`edgeseg export`: model → split → ONNX (+ fp16 / int8 variants) → parity check → bundle (+ engines).

Usage: ``export("deeplabv3_mobilenet_v3_large", out="bundle/", input_size=(96, 128), split="auto")``
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
from pathlib import Path

import numpy as np
from edgeseg_export.warpcost import INTERP_K, interp_ceiling

from edgeseg.errors import ExportError

PRECISIONS = ("fp32", "fp16", "int8")
FP32_TOLERANCE = 1e-3  # max |Δscore| at fp32 ...
RELATIVE_ABOVE = 100.0  # ... scaled by max|score|/100 when scores exceed 100 (only untrained nets blow up so)


def fp32_limit(scores_max_abs: float) -> float:
    """The fp32 parity limit: 1e-3 absolute; 1e-5 relative once max |score| > 100 (float32 rounding)."""
    return FP32_TOLERANCE * max(1.0, scores_max_abs / RELATIVE_ABOVE)


PARITY_BATCH = 2
LABEL_PARITY = 0.999  # fp32: labels of feature → task_labels ONNX vs the torch model's
FP16_LABEL_PARITY = 0.99  # fp16 variants vs fp32


def parse_input_size(text: str) -> tuple[int, int]:
    """'HxW' (e.g. 360x480) → (H, W)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text or "")
    if not m or int(m[1]) < 16 or int(m[2]) < 16 or int(m[1]) > 8192 or int(m[2]) > 8192:
        raise ExportError(f"--input-size {text!r}: expected HxW with 16 ≤ H, W ≤ 8192, e.g. 360x480")
    return int(m[1]), int(m[2])


def read_classes(path: str | Path) -> list[str]:
    """Class names from a JSON list or a text file (one name per line)."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read classes ({exc.__class__.__name__})") from None
    if text.lstrip().startswith("["):
        try:
            names = [str(c) for c in json.loads(text)]
        except json.JSONDecodeError:
            raise ExportError(f"{path}: classes file is not a valid JSON list") from None
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ExportError(f"{path}: no class names")
    return names


def export(model: str, *, out: str | Path, weights: str | Path | None = None, num_classes: int | None = None,
           classes: list[str] | None = None, input_size: tuple[int, int] | None = None, precision: str = "fp32",
           split: str = "auto", calib: str | None = None, engines: bool = True, config: str | Path | None = None,
           log=None, check_fp16: bool = True) -> Path:
    """Export MODEL (a zoo name or an .onnx path) into a bundle directory; returns the manifest path.
    check_fp16=False records the fp16 parity without failing on it (benchmarks of untrained networks).
    The bundle is written whole or not at all (edgeseg_export.outdir): a failed export leaves no directory it
    created, and a directory that existed is left as it was."""
    from edgeseg_export.outdir import staged

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if precision not in PRECISIONS:
        raise ExportError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "int8" and not calib:
        raise ExportError("--precision int8 needs --calib SOURCE (a video whose frames calibrate the ranges)")
    is_onnx = str(model).lower().endswith(".onnx")
    from edgeseg_export import zoo

    if not is_onnx:
        zoo.check_name(model)
    if is_onnx and not Path(model).is_file():
        raise ExportError(f"{model}: no such ONNX file")
    out = Path(out)
    with staged(out) as stage:
        _build(model, stage, is_onnx=is_onnx, weights=weights, config=config, num_classes=num_classes,
               classes=classes, input_size=input_size, split=split, precision=precision, calib=calib, log=log,
               check_fp16=check_fp16)
    if engines:
        _engines(out, log)
    from edgeseg.backend.bundle import MANIFEST

    return out / MANIFEST


def _build(model, out: Path, *, is_onnx, weights, config, num_classes, classes, input_size, split, precision,
           calib, log, check_fp16) -> None:
    """Every file of the bundle and its manifest into `out`, checked as the runtime checks a bundle it opens."""
    if is_onnx:
        from edgeseg_export.foreign import export_onnx

        manifest = export_onnx(Path(model), out, split=split, num_classes=num_classes, classes=classes,
                               input_size=input_size, log=log)
    else:
        manifest = _export_torch(model, out, weights=weights, config=config, num_classes=num_classes,
                                 classes=classes, input_size=input_size, split=split, log=log)
    manifest["precision"] = precision
    _variants(manifest, out, precision, calib, log, check_fp16)
    manifest["cost"].update(_measure(out, manifest))
    c = manifest["cost"]
    log(f"cost split at {manifest['split']['point']}: feature {c['feature_ms']:.1f} ms"
        + (f" / {c['feature_gflops']:.3f} GFLOP" if "feature_gflops" in c else "")
        + f", task {c['task_ms']:.2f} ms" + (f" / {c['task_gflops']:.4f} GFLOP" if "task_gflops" in c else "")
        + f" (onnxruntime CPU, {c['threads']} threads, batch 1)")
    w = c["warp"]
    log(f"warp: stride {manifest['stride']} × {manifest['feature']['shape'][1]} channels; interp warps "
        f"{w['space']} ({w['channels_warped']} × {w['cells']} cells): {w['ms']:.3f} ms per frame; "
        f"interp K={INTERP_K} ceiling {c['interp_ceiling']:.2f}× frame mode (networks + warps)")
    from edgeseg.backend.bundle import load_bundle, write_manifest
    from edgeseg.backend.contract import network_problem

    write_manifest(out, manifest)
    problem = network_problem(load_bundle(out, verify=False))
    if problem:  # e.g. an ONNX model that is no segmentation network but split all the same
        raise ExportError(f"{model}: not a segmentation model edgeseg can run: {problem}")


def _tools() -> dict:
    import onnx
    import onnxruntime
    import torch
    import torchvision

    import edgeseg

    return {"edgeseg": edgeseg.__version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "opset": _opset(),
            "python": platform.python_version()}


def _opset() -> int:
    from edgeseg_export.onnxio import OPSET

    return OPSET


def _stride(full: int, feat: int) -> int:
    return 2 ** round(math.log2(full / feat)) if feat else 1


def _torch_call(fn, x, name):
    """fn(x) under no_grad; a library's refusal (e.g. smp's input-size check) becomes one line."""
    import torch
    from edgeseg_export.checkpoint import first_line

    try:
        with torch.no_grad():
            return fn(x)
    except Exception as exc:  # noqa: BLE001 - shape errors of the source model at this input size
        raise ExportError(f"{name}: the model fails at {x.shape[2]}x{x.shape[3]} ({type(exc).__name__}: "
                          f"{first_line(exc, 200)})") from None


def _export_torch(name, out, *, weights, config, num_classes, classes, input_size, split, log) -> dict:
    import torch
    from edgeseg_export import checkpoint, onnxio, zoo
    from edgeseg_export import split as splitter
    from edgeseg_export.parity import smooth_images
    from torch.nn import functional as F

    from edgeseg.backend.bundle import default_palette, sha256_file

    spec = zoo.build(name, num_classes=num_classes, classes=classes, weights=weights, config=config, warn=log)
    name, hw, st = spec.name, tuple(input_size or spec.input_size), spec.staged
    x = smooth_images(PARITY_BATCH, hw)
    full = _torch_call(spec.forward, x, name)
    if split == "auto":
        point, table = splitter.auto_split(st, hw)
    else:
        point, table = split, splitter.costs(st, hw)
        splitter._index(st, point)
    chosen = next(c for c in table if c.point == point)
    for c in table:
        log(f"  split {c.point:20s} feature {c.feature_gflops:8.3f} GFLOP  task {c.task_gflops:8.4f} GFLOP "
            f"({c.task_share:6.1%}){'  <- chosen' if c.point == point else ''}")
    feat, task = splitter.split_model(st, point)
    f = _torch_call(feat, x, name)
    onnxio.to_onnx(feat, x, out / "feature.onnx", input_name="image", output_name="feature")
    onnxio.to_onnx(task, f, out / "task.onnx", input_name="feature", output_name="scores")
    onnxio.to_onnx(splitter.labels_net(task, hw, st.align_corners), f, out / "task_labels.onnx",
                   input_name="feature", output_name="labels")
    # parity on smooth random images: upsample(task(feature(x))) in onnxruntime vs the source model in torch
    fo = onnxio.session(out / "feature.onnx").run(None, {"image": x.numpy()})[0]
    so = onnxio.session(out / "task.onnx").run(None, {"feature": fo})[0]
    lo = onnxio.session(out / "task_labels.onnx").run(None, {"feature": fo})[0]
    up = F.interpolate(torch.from_numpy(so), size=hw, mode="bilinear", align_corners=st.align_corners)
    diff = float((up - full).abs().max())
    limit = fp32_limit(float(full.abs().max()))
    ref = full.argmax(1).numpy()
    agree = float((lo == ref).mean())
    from edgeseg.pipeline.labels import LabelUpsampler

    to_labels = LabelUpsampler(so.shape[2:], hw, align_corners=st.align_corners)  # what the CPU runtime does
    runtime = float(np.mean([(to_labels(s) == r).mean() for s, r in zip(so, ref, strict=True)]))
    log(f"parity (onnxruntime vs torch, {PARITY_BATCH} smooth random images {hw[0]}x{hw[1]}): max |Δscore| "
        f"{diff:.2e} (limit {limit:.3g}); labels of feature → task_labels agree with torch's on {agree:.4%}"
        + f"; the CPU runtime's label upsampling on {runtime:.4%}")
    if not diff <= limit:
        raise ExportError(f"{name}: parity check failed: max |Δscore| {diff:.3g} > {limit:.3g} (fp32)")
    if agree < LABEL_PARITY:
        raise ExportError(f"{name}: task_labels.onnx disagrees with the torch model's labels on {1 - agree:.2%} "
                          "pixels")
    c, h, w = fo.shape[1:]
    k = so.shape[1]
    stride = _stride(hw[0], h)
    if len(spec.classes) != k:
        raise ExportError(f"{name}: {len(spec.classes)} class names for {k} output channels")
    return {
        "schema_version": 1,
        "model": name,
        "architecture": spec.info,
        "source": {"weights": Path(spec.weights).name if spec.weights else None,
                   "weights_sha256": sha256_file(checkpoint.weights_file(spec.weights)) if spec.weights else None,
                   "random_weights": spec.weights is None},
        "input": {"name": "image", "height": hw[0], "width": hw[1], "mean": list(spec.mean), "std": list(spec.std),
                  "channel_order": "RGB", "layout": "NCHW", "dtype": "float32", "scale": "pixels/255"},
        "stride": stride,
        "feature": {"file": "feature.onnx", "input": "image", "output": "feature", "shape": ["N", c, h, w],
                    "dtype": "float32", "stride": stride, "channels": c},
        "task": {"file": "task.onnx", "input": "feature", "output": "scores", "shape": ["N", k, h, w],
                 "dtype": "float32", "upsample": "bilinear", "align_corners": st.align_corners,
                 "output_stride": stride},
        "task_labels": {"file": "task_labels.onnx", "input": "feature", "output": "labels",
                        "shape": ["N", hw[0], hw[1]], "dtype": "uint8"},
        "split": {"point": point, "auto": split == "auto", "task_share_limit": splitter.TASK_SHARE_LIMIT,
                  "candidates": [{"point": t.point, "feature_gflops": round(t.feature_gflops, 6),
                                  "task_gflops": round(t.task_gflops, 6)} for t in table]},
        "cost": {"feature_gflops": round(chosen.feature_gflops, 6), "task_gflops": round(chosen.task_gflops, 6),
                 "task_share": round(chosen.task_share, 6)},
        "parity": {"inputs": PARITY_BATCH, "images": "smooth random", "max_abs_diff": diff, "tolerance": limit,
                   "score_max_abs": float(full.abs().max()), "task_labels_agreement": agree,
                   "runtime_labels_agreement": runtime},
        "classes": spec.classes,
        "palette": [list(p) for p in (spec.palette or default_palette(k))],
        "tools": _tools(),
        "files": {"feature.onnx": "", "task.onnx": "", "task_labels.onnx": ""},
    }


def _variants(manifest: dict, out: Path, precision: str, calib: str | None, log, check: bool = True) -> None:
    """fp16 / int8 ONNX files beside the fp32 ones, checked against them, listed under manifest variants."""
    from edgeseg_export import onnxio
    from edgeseg_export.precision import FP16_TOLERANCE, calibration_images, normalise, to_fp16, to_qdq

    if precision == "fp32":
        return
    inp = manifest["input"]
    hw = (inp["height"], inp["width"])
    feat, task = manifest["feature"], manifest["task"]
    from edgeseg_export.parity import smooth_images

    x = smooth_images(PARITY_BATCH, hw, seed=1).numpy()
    variant = {}
    if calib:
        images = calibration_images(calib, input_hw=hw, mean=inp["mean"], std=inp["std"])
        np.save(out / "calib.npy", images)
        manifest["calibration"] = {"file": "calib.npy", "frames": len(images), "source": Path(str(calib)).name,
                                   "layout": "NHWC uint8 RGB at the input size", "cache": "engines/<key>/calib.cache"}
        manifest["files"]["calib.npy"] = ""
        x = normalise(images[:2], inp["mean"], inp["std"])
    if precision == "fp16":
        for key in ("feature", "task", "task_labels"):
            src = manifest[key]["file"]
            dst = src.replace(".onnx", ".fp16.onnx")
            to_fp16(out / src, out / dst)
            variant[key] = dst
    else:  # int8: Q/DQ feature network (TensorRT 11, onnxruntime); the small task network stays fp32
        to_qdq(out / feat["file"], out / "feature.int8.onnx", {feat["input"]: normalise(images, inp["mean"], inp["std"])})
        variant["feature"] = "feature.int8.onnx"
    ref_f = onnxio.session(out / feat["file"]).run(None, {feat["input"]: x})[0]
    ref_s = onnxio.session(out / task["file"]).run(None, {task["input"]: ref_f})[0]
    vf = onnxio.session(out / variant["feature"]).run(None, {feat["input"]: x})[0]
    vs = onnxio.session(out / variant.get("task", task["file"])).run(None, {task["input"]: vf})[0]
    diff = float(np.abs(vs - ref_s).max())
    scale = max(1.0, float(np.abs(ref_s).max()))
    agree = float((vs.argmax(1) == ref_s.argmax(1)).mean())
    record = {"max_abs_diff": diff, "score_scale": scale, "label_agreement": agree}
    if precision == "fp16":
        lab = manifest["task_labels"]
        agree = float((onnxio.session(out / variant["task_labels"]).run(None, {lab["input"]: vf})[0]
                       == onnxio.session(out / lab["file"]).run(None, {lab["input"]: ref_f})[0]).mean())
        record.update(label_agreement=agree, tolerance=f"{FP16_TOLERANCE} * max(1, max|score|)",
                      label_tolerance=FP16_LABEL_PARITY)
        log(f"fp16 parity vs fp32 (onnxruntime): max |Δscore| {diff:.3g} (limit {FP16_TOLERANCE * scale:.3g}), "
            f"task_labels agree {agree:.2%}")
        if agree < FP16_LABEL_PARITY and (manifest["source"].get("random_weights") or not check):
            log(f"WARNING: fp16 labels agree with fp32 on only {agree:.2%} (< {FP16_LABEL_PARITY:.0%}); not checked "
                "(random weights: deep untrained networks amplify fp16 rounding)")
        elif diff > FP16_TOLERANCE * scale or agree < FP16_LABEL_PARITY:
            raise ExportError(f"{manifest['model']}: fp16 parity failed: max |Δscore| {diff:.3g} (limit "
                              f"{FP16_TOLERANCE * scale:.3g}), labels agree {agree:.2%} (limit {FP16_LABEL_PARITY:.0%})")
    else:
        record["tolerance"] = "none (int8 accuracy depends on the calibration frames; reported only)"
        log(f"int8 Q/DQ vs fp32 (onnxruntime, calibration frames): max |Δscore| {diff:.3g}, labels agree {agree:.2%}")
    manifest["parity"][precision] = record
    manifest["variants"] = {precision: variant}
    for f in variant.values():
        manifest["files"][f] = ""


def _measure(out: Path, manifest: dict, threads: int = 2) -> dict:
    """Measured onnxruntime CPU ms of feature, task and task_labels at batch 1; interp's warp + fusion."""
    from edgeseg_export import onnxio
    from edgeseg_export.warpcost import measure_warp

    inp, feat, task = manifest["input"], manifest["feature"], manifest["task"]
    x = np.random.default_rng(2).standard_normal((1, 3, inp["height"], inp["width"])).astype(np.float32)
    fs = onnxio.session(out / feat["file"], threads)
    f = fs.run(None, {feat["input"]: x})[0]
    res = {"threads": threads, "feature_ms": round(onnxio.time_ms(fs, {feat["input"]: x}), 3),
           "task_ms": round(onnxio.time_ms(onnxio.session(out / task["file"], threads), {task["input"]: f}), 3)}
    lab = manifest.get("task_labels")
    if lab:
        res["task_labels_ms"] = round(onnxio.time_ms(onnxio.session(out / lab["file"], threads), {lab["input"]: f}), 3)
    ts = onnxio.session(out / task["file"], threads)
    res["warp"] = measure_warp(lambda v: ts.run(None, {task["input"]: v})[0], f[:1],
                               classes=len(manifest["classes"]))
    res["interp_k"] = INTERP_K
    res["interp_ceiling"] = round(interp_ceiling(res["feature_ms"], res["task_ms"], res["warp"]["ms"],
                                                 res["warp"]["space"]), 2)
    return res


def _engines(out: Path, log) -> None:
    """Build TensorRT engines now when TensorRT and a GPU are here; otherwise say they come later."""
    from edgeseg.backend import engines

    why = engines.unavailable_reason()
    if why:
        log(f"TensorRT engines not built here ({why}); they will be built on the target by "
            f"`edgeseg build-engines {out}` or at the first run")
        return
    from edgeseg.backend.bundle import load_bundle
    from edgeseg.errors import EdgesegError

    try:
        for path in engines.build_engines(load_bundle(out), log=log):
            log(f"engine: {path}")
    except EdgesegError as exc:  # the bundle is complete and in place: engines are built later, as without a GPU
        log(f"WARNING: TensorRT engines not built ({exc}); the bundle is complete: `edgeseg build-engines {out}` "
            "or the first run builds them")
