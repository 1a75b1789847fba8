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

from edgeseg.errors import ExportError

PRECISIONS = ("fp32", "fp16", "int8")
FP32_TOLERANCE = 1e-3  # max |Δscore| at fp32 ...
RELATIVE_ABOVE = 100.0  # ... scaled by max|score|/100 when scores exceed 100 (only untrained nets blow up so)


def fp32_limit(scores_max_abs: float) -> float:
    """The fp32 parity limit: 1e-3 absolute; 1e-5 relative once max |score| > 100 (float32 rounding)."""
    return FP32_TOLERANCE * max(1.0, scores_max_abs / RELATIVE_ABOVE)
PARITY_BATCH = 2


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


def prepare_out_dir(out: str | Path) -> Path:
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".edgeseg-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ExportError(f"{out}: output directory not writable ({exc.strerror or type(exc).__name__})") from None
    return out


def export(model: str, *, out: str | Path, weights: str | Path | None = None, num_classes: int | None = None,
           classes: list[str] | None = None, input_size: tuple[int, int] | None = None, precision: str = "fp32",
           split: str = "auto", calib: str | None = None, engines: bool = True, log=None) -> Path:
    """Export MODEL (a zoo name or an .onnx path) into a bundle directory; returns the manifest path."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if precision not in PRECISIONS:
        raise ExportError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "int8" and not calib:
        raise ExportError("--precision int8 needs --calib SOURCE (a video whose frames calibrate the ranges)")
    is_onnx = str(model).lower().endswith(".onnx")
    from edgeseg_export.zoo import MODELS

    if not is_onnx and model not in MODELS:
        raise ExportError(f"{model}: unknown model (choose one of {', '.join(MODELS)} or give an .onnx file)")
    if is_onnx and not Path(model).is_file():
        raise ExportError(f"{model}: no such ONNX file")
    out = prepare_out_dir(out)
    if is_onnx:
        if split == "auto":
            raise ExportError(f"{model}: an ONNX model needs --split TENSOR (the tensor to cut at)")
        manifest = _export_onnx(Path(model), out, split=split, num_classes=num_classes, classes=classes,
                                input_size=input_size, log=log)
    else:
        manifest = _export_torch(model, out, weights=weights, num_classes=num_classes, classes=classes,
                                 input_size=input_size, split=split, log=log)
    manifest["precision"] = precision
    _variants(manifest, out, precision, calib, log)
    manifest["cost"].update(_measure(out, manifest))
    c = manifest["cost"]
    log(f"cost split at {manifest['split']['point']}: feature {c['feature_ms']:.1f} ms"
        + (f" / {c['feature_gflops']:.3f} GFLOP" if "feature_gflops" in c else "")
        + f", task {c['task_ms']:.2f} ms" + (f" / {c['task_gflops']:.4f} GFLOP" if "task_gflops" in c else "")
        + f" (onnxruntime CPU, {c['threads']} threads, batch 1)")
    from edgeseg.backend.bundle import write_manifest

    path = write_manifest(out, manifest)
    if engines:
        _engines(out, log)
    return path


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


def _export_torch(name, out, *, weights, num_classes, classes, input_size, split, log) -> dict:
    import torch
    from edgeseg_export import onnxio, zoo
    from edgeseg_export import split as splitter
    from torch.nn import functional as F

    from edgeseg.backend.bundle import default_palette, sha256_file

    spec = zoo.build(name, num_classes=num_classes, classes=classes, weights=weights, warn=log)
    hw = tuple(input_size or spec.input_size)
    model = spec.model
    if split == "auto":
        point, table = splitter.auto_split(model, hw)
    else:
        point, table = split, splitter.costs(model, hw)
        splitter._index(model, point)
    chosen = next(c for c in table if c.point == point)
    for c in table:
        log(f"  split {c.point:14s} feature {c.feature_gflops:8.3f} GFLOP  task {c.task_gflops:8.4f} GFLOP "
            f"({c.task_share:6.1%}){'  <- chosen' if c.point == point else ''}")
    feat, task = splitter.split_model(model, point)
    torch.manual_seed(0)
    x = torch.randn(PARITY_BATCH, 3, *hw)
    with torch.no_grad():
        f = feat(x)
        full = model(x)["out"]
    onnxio.to_onnx(feat, x, out / "feature.onnx", input_name="image", output_name="feature")
    onnxio.to_onnx(task, f, out / "task.onnx", input_name="feature", output_name="scores")
    onnxio.to_onnx(splitter.labels_net(task, hw), f, out / "task_labels.onnx", input_name="feature",
                   output_name="labels")
    # parity: upsample(task(feature(x))) with onnxruntime vs the torch model
    fo = onnxio.session(out / "feature.onnx").run(None, {"image": x.numpy()})[0]
    so = onnxio.session(out / "task.onnx").run(None, {"feature": fo})[0]
    lo = onnxio.session(out / "task_labels.onnx").run(None, {"feature": fo})[0]
    up = F.interpolate(torch.from_numpy(so), size=hw, mode="bilinear", align_corners=False)
    diff = float((up - full).abs().max())
    limit = fp32_limit(float(full.abs().max()))
    agree = float((up.argmax(1).numpy() == lo).mean())
    log(f"parity (onnxruntime vs torch, {PARITY_BATCH} random inputs {hw[0]}x{hw[1]}): max |Δscore| {diff:.2e} "
        f"(limit {limit:.3g}), task_labels agree {agree:.4%}")
    if not diff <= limit:
        raise ExportError(f"{name}: parity check failed: max |Δscore| {diff:.3g} > {limit:.3g} (fp32)")
    if agree < 0.999:
        raise ExportError(f"{name}: task_labels.onnx disagrees with argmax of the scores on {1 - agree:.2%} pixels")
    c, h, w = fo.shape[1:]
    k = so.shape[1]
    stride = _stride(hw[0], h)
    if len(spec.classes) != k:
        raise ExportError(f"{name}: {len(spec.classes)} class names for {k} output channels")
    return {
        "schema_version": 1,
        "model": name,
        "source": {"weights": Path(spec.weights).name if spec.weights else None,
                   "weights_sha256": sha256_file(spec.weights) if spec.weights else None,
                   "random_weights": spec.weights is None},
        "input": {"name": "image", "height": hw[0], "width": hw[1], "mean": list(spec.mean), "std": list(spec.std),
                  "channel_order": "RGB", "layout": "NCHW", "dtype": "float32", "scale": "pixels/255"},
        "stride": stride,
        "feature": {"file": "feature.onnx", "input": "image", "output": "feature", "shape": ["N", c, h, w],
                    "dtype": "float32"},
        "task": {"file": "task.onnx", "input": "feature", "output": "scores", "shape": ["N", k, h, w],
                 "dtype": "float32", "upsample": "bilinear", "align_corners": False, "output_stride": stride},
        "task_labels": {"file": "task_labels.onnx", "input": "feature", "output": "labels",
                        "shape": ["N", hw[0], hw[1]], "dtype": "uint8"},
        "split": {"point": point, "auto": split == "auto", "task_share_limit": splitter.TASK_SHARE_LIMIT,
                  "candidates": [{"point": t.point, "feature_gflops": round(t.feature_gflops, 6),
                                  "task_gflops": round(t.task_gflops, 6)} for t in table]},
        "cost": {"feature_gflops": round(chosen.feature_gflops, 6), "task_gflops": round(chosen.task_gflops, 6),
                 "task_share": round(chosen.task_share, 6)},
        "parity": {"inputs": PARITY_BATCH, "max_abs_diff": diff, "tolerance": limit,
                   "score_max_abs": float(full.abs().max()), "task_labels_agreement": agree},
        "classes": spec.classes,
        "palette": [list(p) for p in (spec.palette or default_palette(k))],
        "tools": _tools(),
        "files": {"feature.onnx": "", "task.onnx": "", "task_labels.onnx": ""},
    }


def _export_onnx(path: Path, out: Path, *, split, num_classes, classes, input_size, log) -> dict:
    import onnx
    import torch
    from edgeseg_export import onnxio
    from edgeseg_export.foreign import split_onnx
    from edgeseg_export.zoo import IMAGENET_MEAN, IMAGENET_STD
    from torch.nn import functional as F

    from edgeseg.backend.bundle import default_palette

    cut = split_onnx(path, split, out)
    log(f"cut {path.name} at {split!r}: crossing tensors {cut.crossing}; trailing upsampling: {cut.upsample}")
    dims = cut.input_shape
    if input_size is None:
        if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[2:]):
            raise ExportError(f"{path}: input size is dynamic ({dims}); give --input-size HxW")
        input_size = (dims[2], dims[3])
    hw = tuple(input_size)
    batch = PARITY_BATCH if not (isinstance(dims[0], int) and dims[0] > 0) else dims[0]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, *hw)).astype(np.float32)
    full = onnxio.session(path).run(None, {cut.input_name: x})[0]
    fo = onnxio.session(cut.feature).run(None, {cut.input_name: x})[0]
    so = onnxio.session(cut.task).run(None, {cut.split: fo})[0]
    if cut.upsample == "bilinear":
        so_up = F.interpolate(torch.from_numpy(so), size=full.shape[-2:], mode="bilinear", align_corners=False).numpy()
    else:
        so_up = so
    diff = float(np.abs(so_up - full).max())
    limit = fp32_limit(float(np.abs(full).max()))
    log(f"parity (split files vs the whole ONNX model, onnxruntime): max |Δscore| {diff:.2e} (limit {limit:.3g})")
    if not diff <= limit:
        raise ExportError(f"{path}: parity check failed at {split!r}: max |Δscore| {diff:.3g} > {limit:.3g}")
    # the labels network: task + upsampling + argmax, built as ONNX around the task graph
    _labels_onnx(cut.task, out / "task_labels.onnx", cut.output_name, hw, cut.upsample == "bilinear")
    lo = onnxio.session(out / "task_labels.onnx").run(None, {cut.split: fo})[0]
    k, h, w = so.shape[1:]
    if classes is None:
        classes = [f"class{i}" for i in range(num_classes or k)]
    if len(classes) != k:
        raise ExportError(f"{path}: {len(classes)} class names for {k} output channels")
    c, fh, fw = fo.shape[1:]
    return {
        "schema_version": 1,
        "model": path.stem,
        "source": {"onnx": path.name, "random_weights": False},
        "input": {"name": cut.input_name, "height": hw[0], "width": hw[1], "mean": list(IMAGENET_MEAN),
                  "std": list(IMAGENET_STD), "channel_order": "RGB", "layout": "NCHW", "dtype": "float32",
                  "scale": "pixels/255", "note": "normalisation assumed ImageNet; not recorded in the ONNX"},
        "stride": _stride(hw[0], fh),
        "feature": {"file": "feature.onnx", "input": cut.input_name, "output": cut.split,
                    "shape": [dims[0] if isinstance(dims[0], int) and dims[0] > 0 else "N", c, fh, fw],
                    "dtype": "float32"},
        "task": {"file": "task.onnx", "input": cut.split, "output": cut.output_name, "shape": ["N", k, h, w],
                 "dtype": "float32", "upsample": cut.upsample, "align_corners": False,
                 "output_stride": _stride(hw[0], h)},
        "task_labels": {"file": "task_labels.onnx", "input": cut.split, "output": "labels",
                        "shape": ["N", hw[0], hw[1]], "dtype": "uint8"},
        "split": {"point": split, "auto": False, "crossing": cut.crossing},
        "cost": {},
        "parity": {"inputs": batch, "max_abs_diff": diff, "tolerance": limit,
                   "task_labels_agreement": float((so_up.argmax(1) == lo).mean()),
                   "reference": "the whole ONNX model (onnxruntime)"},
        "classes": list(classes),
        "palette": [list(p) for p in default_palette(k)],
        "tools": {**_tools(), "source_opset": max((o.version for o in onnx.load(str(path), load_external_data=False)
                                                   .opset_import if o.domain in ("", "ai.onnx")), default=None)},
        "files": {"feature.onnx": "", "task.onnx": "", "task_labels.onnx": ""},
    }


def _labels_onnx(task: Path, dst: Path, output: str, hw, resize: bool) -> None:
    """Append Resize (bilinear, half_pixel) + ArgMax + Cast(uint8) to a task graph."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(str(task))
    g = m.graph
    src = output
    if resize:
        g.initializer.append(helper.make_tensor("labels_roi", TensorProto.FLOAT, [0], []))
        g.initializer.append(helper.make_tensor("labels_scales", TensorProto.FLOAT, [0], []))
        g.node.append(helper.make_node("Shape", [output], ["labels_in_shape"]))
        g.initializer.append(helper.make_tensor("labels_hw", TensorProto.INT64, [2], list(hw)))
        g.initializer.append(helper.make_tensor("labels_s0", TensorProto.INT64, [1], [0]))
        g.initializer.append(helper.make_tensor("labels_s2", TensorProto.INT64, [1], [2]))
        g.node.append(helper.make_node("Slice", ["labels_in_shape", "labels_s0", "labels_s2"], ["labels_nk"]))
        g.node.append(helper.make_node("Concat", ["labels_nk", "labels_hw"], ["labels_size"], axis=0))
        g.node.append(helper.make_node("Resize", [output, "labels_roi", "labels_scales", "labels_size"],
                                       ["labels_up"], mode="linear", coordinate_transformation_mode="half_pixel"))
        src = "labels_up"
    g.node.append(helper.make_node("ArgMax", [src], ["labels_i64"], axis=1, keepdims=0))
    g.node.append(helper.make_node("Cast", ["labels_i64"], ["labels"], to=TensorProto.UINT8))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("labels", TensorProto.UINT8, ["N", hw[0], hw[1]]))
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


def _variants(manifest: dict, out: Path, precision: str, calib: str | None, log) -> None:
    """fp16 / int8 ONNX files beside the fp32 ones, checked against them, listed under manifest variants."""
    from edgeseg_export import onnxio
    from edgeseg_export.precision import FP16_TOLERANCE, calibration_images, normalise, to_fp16, to_qdq

    if precision == "fp32":
        return
    inp = manifest["input"]
    hw = (inp["height"], inp["width"])
    feat, task = manifest["feature"], manifest["task"]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, *hw)).astype(np.float32)
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
        record["tolerance"] = f"{FP16_TOLERANCE} * max(1, max|score|)"
        log(f"fp16 parity vs fp32 (onnxruntime): max |Δscore| {diff:.3g} (limit {FP16_TOLERANCE * scale:.3g}), "
            f"labels agree {agree:.2%}")
        if diff > FP16_TOLERANCE * scale:
            raise ExportError(f"{manifest['model']}: fp16 parity failed: max |Δscore| {diff:.3g} > "
                              f"{FP16_TOLERANCE * scale:.3g}")
    else:
        record["tolerance"] = "none (int8 accuracy depends on the calibration frames; reported only)"
        log(f"int8 Q/DQ vs fp32 (onnxruntime, calibration frames): max |Δscore| {diff:.3g}, labels agree {agree:.2%}")
    manifest["parity"][precision] = record
    manifest["variants"] = {precision: variant}
    for f in variant.values():
        manifest["files"][f] = ""


def _measure(out: Path, manifest: dict, threads: int = 2) -> dict:
    """Measured onnxruntime CPU ms of feature, task and task_labels at batch 1."""
    from edgeseg_export import onnxio

    inp, feat, task = manifest["input"], manifest["feature"], manifest["task"]
    x = np.random.default_rng(2).standard_normal((1, 3, inp["height"], inp["width"])).astype(np.float32)
    fs = onnxio.session(out / feat["file"], threads)
    f = fs.run(None, {feat["input"]: x})[0]
    res = {"threads": threads, "feature_ms": round(onnxio.time_ms(fs, {feat["input"]: x}), 3),
           "task_ms": round(onnxio.time_ms(onnxio.session(out / task["file"], threads), {task["input"]: f}), 3)}
    lab = manifest.get("task_labels")
    if lab:
        res["task_labels_ms"] = round(onnxio.time_ms(onnxio.session(out / lab["file"], threads), {lab["input"]: f}), 3)
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

    for path in engines.build_engines(load_bundle(out), log=log):
        log(f"engine: {path}")
