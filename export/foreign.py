"""Split an existing ONNX segmentation model at a named tensor, or where ``--split auto`` finds, into a bundle.

Usage: ``cut = split_onnx("seg.onnx", "aspp_out", out_dir)`` (or ``"auto"``); ``export_onnx(path, out, split=...)``

Shape inference runs first (onnxruntime's symbolic inference, else onnx's; with --input-size fixed into the
model when its H, W are dynamic). The
tensors crossing the cut (produced before it and consumed after it) must be exactly the split tensor;
otherwise the error lists them. ``auto`` applies edgeseg_export.autosplit's rule. A trailing bilinear Resize
(half-pixel or align_corners) is kept out of the task network (it becomes the manifest's ``upsample``), so the
task output stays at feature resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edgeseg_export.checkpoint import first_line

from edgeseg.errors import ExportError


@dataclass
class OnnxCut:
    feature: Path
    task: Path
    input_name: str
    output_name: str  # task output
    split: str
    input_shape: list  # ints or symbolic names
    feature_shape: list
    upsample: str  # "bilinear" or "none"
    full_output: str
    crossing: list[str] = field(default_factory=list)
    align_corners: bool = False
    table: list = field(default_factory=list)  # auto: [(tensor, task share)]


def _load_inferred(path: Path, input_size):
    import onnx
    from onnx import shape_inference

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise ExportError(f"{path}: expected one image input and one output, found {len(inputs)} and "
                          f"{len(model.graph.output)}")
    dims = inputs[0].type.tensor_type.shape.dim
    _check_image_model(path, inputs[0], model.graph.output[0])
    if input_size is not None and len(dims) == 4:
        for d, v in zip(dims[2:], input_size, strict=True):
            if not d.HasField("dim_value"):
                d.dim_value = int(v)
    try:  # onnxruntime's symbolic inference follows sizes computed at run time (Resize to Shape(x)), onnx's not
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        return SymbolicShapeInference.infer_shapes(model, auto_merge=True), inputs[0].name
    except Exception:  # noqa: BLE001 - fall back to onnx's own inference
        pass
    try:
        return shape_inference.infer_shapes(model, strict_mode=False), inputs[0].name
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: shape inference failed ({first_line(exc, 160)})") from None


def _check_image_model(path: Path, image, output) -> None:
    """A segmentation model takes N×3×H×W images and gives N×K×h×w scores; where the ONNX records ranks and
    channels that say otherwise (a classifier, a detector, a text model), one line says so."""
    def shape(vi):
        t = vi.type.tensor_type
        return ([d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim] if t.HasField("shape")
                else None)

    dims, out = shape(image), shape(output)
    why = None
    if dims is not None and len(dims) != 4:
        why = f"its input {image.name} has rank {len(dims)}, not N×3×H×W images"
    elif dims is not None and dims[1] not in (None, 0, 3):
        why = f"its input {image.name} has {dims[1]} channels, not N×3×H×W RGB images"
    elif out is not None and len(out) != 4:
        why = f"its output {output.name} has rank {len(out)}, not N×K×h×w class scores"
    if why:
        raise ExportError(f"{path}: not a segmentation model ({why})")


def _trailing_resize(g, produced, output: str):
    """(task output, upsample, align_corners): a final bilinear Resize is left to the runtime."""
    import onnx

    last = produced[output]
    if last.op_type == "Resize" and last.input[0] in produced:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in last.attribute}
        ctm = attrs.get("coordinate_transformation_mode", b"half_pixel")
        if attrs.get("mode", b"nearest") == b"linear" and ctm in (b"half_pixel", b"pytorch_half_pixel",
                                                                    b"align_corners"):
            return last.input[0], "bilinear", ctm == b"align_corners"
    return output, "none", False


def split_onnx(path: str | Path, tensor: str, out_dir: str | Path, *, input_size=None,
               feature_name: str = "feature.onnx", task_name: str = "task.onnx") -> OnnxCut:
    """Write feature/task ONNX files cut at `tensor` (or the auto cut) into out_dir."""
    import onnx
    from edgeseg_export.autosplit import Graph, find_cut, no_cut_error
    from onnx import utils

    path = Path(path)
    model, image_name = _load_inferred(path, input_size)
    g = model.graph
    image = next(i for i in g.input if i.name == image_name)
    output = g.output[0]
    graph = Graph(g, image.name)
    task_out, upsample, align = _trailing_resize(g, graph.produced, output.name)
    table = []
    if tensor == "auto":
        found = find_cut(g, image=image.name, task_out=task_out)
        if found.tensor is None:
            raise no_cut_error(path, found.table)
        tensor, table = found.tensor, found.table
    if tensor not in graph.produced:
        raise ExportError(f"{path}: split tensor {tensor!r} not found; candidates: "
                          f"{', '.join(_candidates(g, graph.shapes))}")
    if task_out == tensor:
        raise ExportError(f"{path}: cutting at {tensor!r} leaves an empty task network; cut earlier")
    _, crossing = graph.task_side(graph.ancestors(tensor), task_out)
    if crossing != [tensor]:
        raise ExportError(f"{path}: cutting at {tensor!r} is not a single-tensor cut; tensors crossing it: "
                          f"{', '.join(crossing) or '(none: the output does not depend on it)'}")
    out_dir = Path(out_dir)
    feature, task = out_dir / feature_name, out_dir / task_name
    tmp = out_dir / ".inferred.onnx"
    onnx.save(model, str(tmp))
    try:
        utils.extract_model(str(tmp), str(feature), [image.name], [tensor], check_model=True)
        utils.extract_model(str(tmp), str(task), [tensor], [task_out], check_model=True)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: extraction at {tensor!r} failed ({first_line(exc, 160)})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return OnnxCut(feature=feature, task=task, input_name=image.name, output_name=task_out, split=tensor,
                   input_shape=graph.shapes[image.name], feature_shape=graph.shapes.get(tensor, []),
                   upsample=upsample, full_output=output.name, crossing=crossing, align_corners=align, table=table)


def _candidates(g, shapes, n: int = 6) -> list[str]:
    """A few plausible cut names: 4-D tensors from the last part of the graph."""
    names = [o for node in g.node for o in node.output if len(shapes.get(o, [])) == 4]
    return names[-n - 1:-1] or [o for node in g.node for o in node.output][-n:]


def export_onnx(path: Path, out: Path, *, split, num_classes, classes, input_size, log) -> dict:
    """Cut an ONNX model into a bundle's networks, check them against it, and return the manifest."""
    import onnx
    import torch
    from edgeseg_export import onnxio
    from edgeseg_export.autosplit import TASK_SHARE_LIMIT
    from edgeseg_export.parity import smooth_images
    from edgeseg_export.pipeline import PARITY_BATCH, _stride, _tools, fp32_limit
    from edgeseg_export.zoo import IMAGENET_MEAN, IMAGENET_STD
    from torch.nn import functional as F

    from edgeseg.backend.bundle import default_palette

    cut = split_onnx(path, split, out, input_size=input_size)
    for t, share in cut.table:
        log(f"  cut {t:40s} task {share:6.1%} of the FLOPs{'  <- chosen' if t == cut.split else ''}")
    log(f"cut {path.name} at {cut.split!r}: crossing tensors {cut.crossing}; trailing upsampling: {cut.upsample}"
        + (" (align_corners)" if cut.align_corners else ""))
    dims = cut.input_shape
    if input_size is None:
        if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[2:]):
            raise ExportError(f"{path}: input size is dynamic ({dims}); give --input-size HxW")
        input_size = (dims[2], dims[3])
    hw = tuple(input_size)
    batch = PARITY_BATCH if not (isinstance(dims[0], int) and dims[0] > 0) else dims[0]
    x = smooth_images(batch, hw).numpy()
    full = onnxio.session(path).run(None, {cut.input_name: x})[0]
    fo = onnxio.session(cut.feature).run(None, {cut.input_name: x})[0]
    so = onnxio.session(cut.task).run(None, {cut.split: fo})[0]
    if cut.upsample == "bilinear":
        so_up = F.interpolate(torch.from_numpy(so), size=full.shape[-2:], mode="bilinear",
                              align_corners=cut.align_corners).numpy()
    else:
        so_up = so
    diff = float(np.abs(so_up - full).max())
    limit = fp32_limit(float(np.abs(full).max()))
    log(f"parity (split files vs the whole ONNX model, onnxruntime): max |Δscore| {diff:.2e} (limit {limit:.3g})")
    if not diff <= limit:
        raise ExportError(f"{path}: parity check failed at {split!r}: max |Δscore| {diff:.3g} > {limit:.3g}")
    if cut.upsample == "none" and tuple(so.shape[-2:]) != hw:  # e.g. SegFormer's logits at 1/4 resolution
        cut.upsample = "bilinear"
        log(f"the model's output is {so.shape[-2]}x{so.shape[-1]}, below the input size: upsampled bilinearly "
            "(half-pixel), as SegFormer's post-processing does")
    # the labels network: task + upsampling + argmax, built as ONNX around the task graph
    labels_onnx(cut.task, out / "task_labels.onnx", cut.output_name, hw, cut.upsample == "bilinear",
                align_corners=cut.align_corners)
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
                    "dtype": "float32", "stride": _stride(hw[0], fh), "channels": c},
        "task": {"file": "task.onnx", "input": cut.split, "output": cut.output_name, "shape": ["N", k, h, w],
                 "dtype": "float32", "upsample": cut.upsample, "align_corners": cut.align_corners,
                 "output_stride": _stride(hw[0], h)},
        "task_labels": {"file": "task_labels.onnx", "input": cut.split, "output": "labels",
                        "shape": ["N", hw[0], hw[1]], "dtype": "uint8"},
        "split": {"point": cut.split, "auto": split == "auto", "crossing": cut.crossing,
                  **({"task_share_limit": TASK_SHARE_LIMIT, "candidates": [{"tensor": t, "task_share": round(v, 6)}
                                                                          for t, v in cut.table]} if cut.table else {})},
        "cost": {},
        "parity": {"inputs": batch, "images": "smooth random", "max_abs_diff": diff, "tolerance": limit,
                   "task_labels_agreement": float((_labels_of(so, hw, cut) == lo).mean()),
                   "reference": "the whole ONNX model (onnxruntime)"},
        "classes": list(classes),
        "palette": [list(p) for p in default_palette(k)],
        "tools": {**_tools(), "source_opset": max((o.version for o in onnx.load(str(path), load_external_data=False)
                                                   .opset_import if o.domain in ("", "ai.onnx")), default=None)},
        "files": {"feature.onnx": "", "task.onnx": "", "task_labels.onnx": ""},
    }


def _labels_of(scores: np.ndarray, hw, cut: OnnxCut) -> np.ndarray:
    """argmax of the task scores upsampled to the input size as the manifest says."""
    import torch
    from torch.nn import functional as F

    if cut.upsample != "bilinear":
        return scores.argmax(1)
    return F.interpolate(torch.from_numpy(scores), size=tuple(hw), mode="bilinear",
                         align_corners=cut.align_corners).argmax(1).numpy()


def labels_onnx(task: Path, dst: Path, output: str, hw, resize: bool, *, align_corners: bool = False) -> None:
    """Append Resize (bilinear, half_pixel or align_corners) + ArgMax + Cast(uint8) to a task graph."""
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
                                       ["labels_up"], mode="linear",
                                       coordinate_transformation_mode="align_corners" if align_corners else "half_pixel"))
        src = "labels_up"
    g.node.append(helper.make_node("ArgMax", [src], ["labels_i64"], axis=1, keepdims=0))
    g.node.append(helper.make_node("Cast", ["labels_i64"], ["labels"], to=TensorProto.UINT8))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("labels", TensorProto.UINT8, ["N", hw[0], hw[1]]))
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


