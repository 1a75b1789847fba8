"""What the pipeline needs of a bundle's networks, checked against the ONNX files themselves when a bundle loads.

Usage: ``problem = network_problem(bundle)`` (None when every network fits); ``check_networks(bundle, label)``

A bundle whose hashes match can still hold some other network (re-hashed by hand, a wrong file exported): the
runtime would fail on its first frame with an onnxruntime shape error. Checked here, from each file's graph
inputs and outputs (fixed dimensions only; symbolic ones are left to the runtime), for every precision variant:

- feature: one float input, rank 4, N×3×H×W with H×W the manifest's input size; its first output rank 4 with the
  manifest's feature shape (C, h, w);
- task: one float input, rank 4 with C channels; its first output rank 4 with one channel per class;
- task_labels: one float input, rank 4 with C channels; its first output rank 3 (N×H×W), integer labels.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import BundleError

_FLOATS = {1: "float32", 10: "float16", 11: "float64", 16: "bfloat16"}  # onnx.TensorProto element types
_INTS = {2, 3, 4, 5, 6, 7, 12, 13}  # uint8, int8, uint16, int16, int32, int64, uint32, uint64
_ROLE = {"feature": "feature network (image → features)", "task": "task network (features → class scores)",
         "task_labels": "labels network (features → label map)"}


def check_networks(bundle, label=None) -> None:
    """Raise a one-line BundleError naming the bundle (`label`, default its path), the network file and what
    does not fit, for the first network of the bundle that is not what the pipeline runs."""
    problem = network_problem(bundle)
    if problem:
        raise BundleError(f"{label if label is not None else bundle.path}: {problem}")


def network_problem(bundle) -> str | None:
    """'<file>: <what is wrong>' for the first network (any precision variant) that does not fit, else None."""
    seen, chw = set(), list(_feature_chw(bundle))
    for precision in ("fp32", *(bundle.manifest.get("variants") or {})):
        for key in ("feature", "task", "task_labels"):
            spec = bundle.net(key, precision)
            if spec is None or spec.file in seen:
                continue
            seen.add(spec.file)
            try:
                inputs, outputs = _graph_io(spec.file)
            except ValueError as exc:
                return f"{spec.file.name}: {exc}"
            why = _misfit(key, inputs, outputs, bundle, tuple(chw))
            if why:
                return f"{spec.file.name} is not the {_ROLE[key]} this bundle needs: {why}"
            if key == "feature" and outputs and outputs[0][2] and len(outputs[0][2]) == 4:
                # where the manifest records no feature shape, the feature network's own tells the task's
                chw = [m if m is not None else d for m, d in zip(chw, outputs[0][2][1:], strict=True)]
    return None


def _graph_io(path: Path) -> tuple[list, list]:
    """([(name, element type, dims or None)] of the graph inputs (initializers left out), same for outputs).
    dims: one entry per axis, an int where fixed, None where symbolic; None when the rank is not recorded.
    Read from the protobuf wire format directly: no `onnx` import (0.5 s at startup; optional in the runtime).
    ValueError: the file is no ONNX model."""
    try:
        ir, graph = 0, None
        for number, wire, value in _fields(memoryview(path.read_bytes())):
            if number == 1 and wire == 0:  # ModelProto.ir_version
                ir = value
            elif number == 7 and wire == 2:  # ModelProto.graph
                graph = value
        if ir <= 0 or graph is None:
            raise ValueError("no IR version or no graph")
        inits, inputs, outputs = set(), [], []
        for number, wire, value in _fields(graph):
            if number == 5 and wire == 2:  # GraphProto.initializer: TensorProto, name = 8
                inits.update(bytes(v).decode("utf-8", "replace") for n, w, v in _fields(value) if n == 8 and w == 2)
            elif number in (11, 12) and wire == 2:  # GraphProto.input, .output: ValueInfoProto
                (inputs if number == 11 else outputs).append(_value_info(value))
    except ValueError as exc:
        raise ValueError(f"not an ONNX model ({exc})") from None
    if not outputs:
        raise ValueError("not an ONNX model (its graph has no outputs)")
    return [i for i in inputs if i[0] not in inits], outputs


def _value_info(buf: memoryview) -> tuple[str, int, list | None]:
    """ValueInfoProto (name = 1, type = 2: TypeProto.tensor_type = 1: elem_type = 1, shape = 2: dim = 1:
    dim_value = 1) → (name, element type, dims or None)."""
    name, elem, dims = "", 0, None
    for number, wire, value in _fields(buf):
        if number == 1 and wire == 2:
            name = bytes(value).decode("utf-8", "replace")
        elif number == 2 and wire == 2:
            for tensor in (v for n, w, v in _fields(value) if n == 1 and w == 2):
                for n, w, v in _fields(tensor):
                    if n == 1 and w == 0:
                        elem = v
                    elif n == 2 and w == 2:
                        dims = [_dim(d) for k, t, d in _fields(v) if k == 1 and t == 2]
    return name, elem, dims


def _dim(buf: memoryview) -> int | None:
    """TensorShapeProto.Dimension → its dim_value where fixed and positive, else None (dim_param, unknown)."""
    value = None
    for number, wire, v in _fields(buf):
        if number == 1 and wire == 0:
            value = v - (1 << 64) if v >= 1 << 63 else v  # int64
    return value if value is not None and value > 0 else None


def _fields(buf: memoryview):
    """(field number, wire type, value) of each field of one protobuf message: ints for varint and fixed-width
    fields, memoryviews for length-delimited ones. ValueError where the bytes are not a protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > n:
                raise ValueError("a field runs past the end of the file")
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if i + width > n:
                raise ValueError("a field runs past the end of the file")
            value, i = int.from_bytes(buf[i:i + width], "little"), i + width
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield number, wire, value


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("a malformed varint")
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _misfit(key: str, inputs: list, outputs: list, bundle, chw: tuple) -> str | None:
    """What does not fit network `key` of the bundle (features (C, h, w), None where unknown), or None."""
    c, h, w = chw
    if len(inputs) != 1:
        return f"it has {len(inputs)} inputs ({', '.join(n for n, _, _ in inputs) or 'none'}); expected one"
    if not outputs:
        return "it has no output"
    name, elem, dims = inputs[0]
    if elem not in _FLOATS:
        return f"its input {name} is not a float tensor (ONNX element type {elem})"
    if key == "feature":
        want, what = [None, 3, *bundle.input_hw], "N×3×{}×{} images (the manifest's input size)".format(*bundle.input_hw)
    else:
        want, what = [None, c, None, None], f"N×{c if c else 'C'}×h×w features"
    why = _shape_misfit(f"its input {name}", dims, want, what)
    if why:
        return why
    out_name, out_elem, out_dims = outputs[0]
    if key == "feature":
        return _shape_misfit(f"its output {out_name}", out_dims, [None, c, h, w], f"N×C×h×w features as the "
                             f"manifest records ({c}×{h}×{w})" if c else "N×C×h×w features")
    if key == "task":
        return _shape_misfit(f"its output {out_name}", out_dims, [None, bundle.num_classes, None, None],
                             f"N×{bundle.num_classes}×h×w scores, one channel per class of the manifest")
    if out_elem in _FLOATS:
        return f"its output {out_name} is {_FLOATS[out_elem]}, not integer labels"
    return _shape_misfit(f"its output {out_name}", out_dims, [None, *bundle.input_hw], "N×H×W labels at the input size")


def _shape_misfit(what: str, dims: list | None, want: list, expected: str) -> str | None:
    """Rank and fixed dimensions of `dims` against `want` (None: any); a one-clause reason, or None."""
    if dims is None:
        return None
    shown = "×".join("?" if d is None else str(d) for d in dims) or "a scalar"
    if len(dims) != len(want):
        return f"{what} has rank {len(dims)} ({shown}); expected rank {len(want)}, {expected}"
    for axis, (got, need) in enumerate(zip(dims, want, strict=True)):
        if got is not None and need is not None and got != need:
            return f"{what} is {shown}, axis {axis} is {got}; expected {expected}"
    return None


def _feature_chw(bundle) -> tuple[int | None, int | None, int | None]:
    """(C, h, w) of the manifest's feature shape where recorded as numbers, else None each."""
    shape = bundle.feature.extra.get("shape")
    if not isinstance(shape, list) or len(shape) < 3:
        return None, None, None
    return tuple(int(d) if isinstance(d, int) and d > 0 else None for d in shape[-3:])
