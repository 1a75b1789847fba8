"""Split an existing ONNX segmentation model at a named tensor with onnx's extraction utilities.

Usage: ``cut = split_onnx("seg.onnx", "aspp_out", out_dir)``; ``cut.feature``, ``cut.task``, ``cut.crossing``

Shape inference runs first. The tensors crossing the cut (produced before it and consumed after it) must be
exactly the split tensor; otherwise the error lists them. A trailing bilinear Resize is kept out of the task
network (it becomes the manifest's ``upsample``), so the task output stays at feature resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


def _dims(vi) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in vi.type.tensor_type.shape.dim]


def split_onnx(path: str | Path, tensor: str, out_dir: str | Path, *, feature_name: str = "feature.onnx",
               task_name: str = "task.onnx") -> OnnxCut:
    """Write feature/task ONNX files cut at `tensor` into out_dir."""
    import onnx
    from onnx import shape_inference, utils

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None
    try:
        model = shape_inference.infer_shapes(model, strict_mode=False)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{path}: shape inference failed ({str(exc).splitlines()[0][:160]})") from None
    g = model.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ExportError(f"{path}: expected one image input and one output, found {len(inputs)} and {len(g.output)}")
    image, output = inputs[0], g.output[0]
    produced = {o: n for n in g.node for o in n.output}
    shapes = {vi.name: _dims(vi) for vi in (*g.value_info, *g.output, *g.input)}
    if tensor not in produced:
        raise ExportError(f"{path}: split tensor {tensor!r} not found; candidates: {', '.join(_candidates(g, shapes))}")
    # strip a trailing bilinear Resize: the runtime upsamples (or not) where it is cheapest; its size input
    # often comes from Shape(image), which would otherwise cross the cut
    last = produced[output.name]
    task_out, upsample = output.name, "none"
    if last.op_type == "Resize" and last.input[0] in produced:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in last.attribute}
        mode = attrs.get("mode", b"nearest")
        ctm = attrs.get("coordinate_transformation_mode", b"half_pixel")
        if mode == b"linear" and ctm in (b"half_pixel", b"pytorch_half_pixel"):
            task_out, upsample = last.input[0], "bilinear"
    if task_out == tensor:
        raise ExportError(f"{path}: cutting at {tensor!r} leaves an empty task network; cut earlier")
    # feature side: the split tensor's ancestors; task side: nodes reachable backwards from the task output,
    # stopping at tensors the feature side produces (those cross the cut)
    feature_nodes, stack = set(), [tensor]
    while stack:
        node = produced.get(stack.pop())
        if node is not None and id(node) not in feature_nodes:
            feature_nodes.add(id(node))
            stack.extend(i for i in node.input if i)
    task_nodes, crossing, stack = set(), set(), [task_out]
    while stack:
        name = stack.pop()
        if name in inits:
            continue
        if name == image.name or (name in produced and id(produced[name]) in feature_nodes):
            crossing.add(name)
            continue
        node = produced.get(name)
        if node is None or id(node) in task_nodes:
            continue
        task_nodes.add(id(node))
        stack.extend(i for i in node.input if i)
    crossing = sorted(crossing)
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
        raise ExportError(f"{path}: extraction at {tensor!r} failed ({str(exc).splitlines()[0][:160]})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return OnnxCut(feature=feature, task=task, input_name=image.name, output_name=task_out, split=tensor,
                   input_shape=_dims(image), feature_shape=shapes.get(tensor, []), upsample=upsample,
                   full_output=output.name, crossing=crossing)


def _candidates(g, shapes, n: int = 6) -> list[str]:
    """A few plausible cut names: 4-D tensors from the last part of the graph."""
    names = [o for node in g.node for o in node.output if len(shapes.get(o, [])) == 4]
    return names[-n - 1:-1] or [o for node in g.node for o in node.output][-n:]
