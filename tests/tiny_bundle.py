"""A tiny, torch-free model bundle built with onnx.helper (importable from tests as ``import tiny_bundle``).

Usage: ``path = tiny_bundle.make(tmp_path / "b")``; ``tiny_bundle.reference(x)`` = (features, scores) in NumPy.

feature: 4×4 average pooling then a 1×1 conv 3→4 (stride 4); task: 1×1 conv 4→3; task_labels: task +
bilinear Resize to the input size + ArgMax + Cast(uint8). Dynamic batch axis everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

H, W, STRIDE = 16, 24, 4
W_FEAT = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
W_TASK = np.array([[1, -1, 0.5, 0], [0, 1, -1, 0.25], [-0.5, 0, 1, 1]], np.float32)


def _save(nodes, inits, inp, out, path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
                              [helper.make_tensor_value_info(out[0], out[2], out[1])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def make(out: Path, *, manifest_overrides: dict | None = None) -> Path:
    """Write the bundle (manifest with real sha256s) and return its directory."""
    from onnx import TensorProto, helper, numpy_helper

    from edgeseg.backend.bundle import write_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = H // STRIDE, W // STRIDE
    wf = numpy_helper.from_array(W_FEAT.reshape(4, 3, 1, 1), "wf")
    wt = numpy_helper.from_array(W_TASK.reshape(3, 4, 1, 1), "wt")
    _save([helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
           helper.make_node("Conv", ["pooled", "wf"], ["feature"])], [wf],
          ("image", ["N", 3, H, W]), ("feature", ["N", 4, h, w], TensorProto.FLOAT), out / "feature.onnx")
    _save([helper.make_node("Conv", ["feature", "wt"], ["scores"])], [wt],
          ("feature", ["N", 4, h, w]), ("scores", ["N", 3, h, w], TensorProto.FLOAT), out / "task.onnx")
    size = numpy_helper.from_array(np.array([1, 3, H, W], np.int64), "size")
    _save([helper.make_node("Conv", ["feature", "wt"], ["scores"]),
           helper.make_node("Shape", ["scores"], ["shape"], end=1),
           helper.make_node("Slice", ["size", "one", "four"], ["khw"]),
           helper.make_node("Concat", ["shape", "khw"], ["full"], axis=0),
           helper.make_node("Resize", ["scores", "", "", "full"], ["up"], mode="linear",
                            coordinate_transformation_mode="half_pixel"),
           helper.make_node("ArgMax", ["up"], ["idx"], axis=1, keepdims=0),
           helper.make_node("Cast", ["idx"], ["labels"], to=TensorProto.UINT8)],
          [wt, size, numpy_helper.from_array(np.array([1], np.int64), "one"),
           numpy_helper.from_array(np.array([4], np.int64), "four")],
          ("feature", ["N", 4, h, w]), ("labels", ["N", H, W], TensorProto.UINT8), out / "task_labels.onnx")
    manifest = {
        "schema_version": 1, "model": "tiny",
        "input": {"name": "image", "height": H, "width": W, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                  "channel_order": "RGB"},
        "stride": STRIDE,
        "feature": {"file": "feature.onnx", "input": "image", "output": "feature", "shape": ["N", 4, h, w],
                    "dtype": "float32"},
        "task": {"file": "task.onnx", "input": "feature", "output": "scores", "shape": ["N", 3, h, w],
                 "upsample": "bilinear", "output_stride": STRIDE},
        "task_labels": {"file": "task_labels.onnx", "input": "feature", "output": "labels", "dtype": "uint8"},
        "classes": ["a", "b", "c"], "palette": [[255, 0, 0], [0, 255, 0], [0, 0, 255]], "precision": "fp32",
        "tools": {"test": "tiny_bundle"},
        "files": {"feature.onnx": "", "task.onnx": "", "task_labels.onnx": ""},
    }
    manifest.update(manifest_overrides or {})
    write_manifest(out, manifest)
    return out


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy features and scores of the tiny model."""
    n = x.shape[0]
    pooled = x.reshape(n, 3, H // STRIDE, STRIDE, W // STRIDE, STRIDE).mean(axis=(3, 5))
    feat = np.einsum("oc,nchw->nohw", W_FEAT, pooled)
    return feat, np.einsum("oc,nchw->nohw", W_TASK, feat)


def edit_manifest(path: Path, **changes) -> None:
    """Rewrite manifest fields in place (hashes untouched)."""
    m = json.loads((path / "manifest.json").read_text())
    m.update(changes)
    (path / "manifest.json").write_text(json.dumps(m))
