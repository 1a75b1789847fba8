"""A small untrained but content-driven bundle: labels follow local colour, so they move with the pixels.

Usage: ``path = color_bundle.make(tmp_path / "b", size=(360, 480))`` (built with onnx.helper, no torch)

feature: 16×16 average pooling (stride 16, the H.264 macroblock) → 1×1 conv 3→8 → ReLU;
task: 1×1 conv 8→4. Fixed weights: what a pixel block looks like decides its class, as in a trained
segmenter, so warping features along the true motion must beat reusing them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

STRIDE = 16
W_FEAT = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, -1, 0], [0, 1, -1], [-1, 0, 1], [1, 1, 1],
                   [-1, -1, -1]], np.float32)
W_TASK = np.array([[2, -1, -1, 1, 0, -1, 0, 0], [-1, 2, -1, -1, 1, 0, 0, 0], [-1, -1, 2, 0, -1, 1, 0, 0],
                   [0, 0, 0, 0, 0, 0, 1.5, -1.5]], np.float32)


def make(out: Path, *, size: tuple[int, int]) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeseg.backend.bundle import write_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = -(-size[0] // STRIDE), -(-size[1] // STRIDE)

    def save(nodes, inits, inp, outp, name):
        graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info(inp[0], TensorProto.FLOAT, inp[1])],
                                  [helper.make_tensor_value_info(outp[0], TensorProto.FLOAT, outp[1])],
                                  initializer=inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        onnx.save(model, str(out / f"{name}.onnx"))

    save([helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[STRIDE, STRIDE],
                           strides=[STRIDE, STRIDE], ceil_mode=1),
          helper.make_node("Conv", ["pooled", "wf"], ["pre"]), helper.make_node("Relu", ["pre"], ["feature"])],
         [numpy_helper.from_array(W_FEAT.reshape(8, 3, 1, 1), "wf")],
         ("image", ["N", 3, *size]), ("feature", ["N", 8, h, w]), "feature")
    save([helper.make_node("Conv", ["feature", "wt"], ["scores"])],
         [numpy_helper.from_array(W_TASK.reshape(4, 8, 1, 1), "wt")],
         ("feature", ["N", 8, h, w]), ("scores", ["N", 4, h, w]), "task")
    write_manifest(out, {
        "schema_version": 1, "model": "colour-test",
        "input": {"name": "image", "height": size[0], "width": size[1], "mean": [0.5, 0.5, 0.5],
                  "std": [0.25, 0.25, 0.25], "channel_order": "RGB"},
        "stride": STRIDE,
        "feature": {"file": "feature.onnx", "input": "image", "output": "feature", "shape": ["N", 8, h, w],
                    "dtype": "float32"},
        "task": {"file": "task.onnx", "input": "feature", "output": "scores", "upsample": "bilinear",
                 "output_stride": STRIDE},
        "classes": ["red", "green", "blue", "bright"], "palette": [[255, 0, 0], [0, 255, 0], [0, 0, 255],
                                                                   [255, 255, 255]],
        "precision": "fp32", "files": {"feature.onnx": "", "task.onnx": ""},
    })
    return out
