"""pointwise_affine on real onnxruntime sessions: the reference task network passes, spatial or nonlinear fail."""

import numpy as np
import pytest

from edgeseg.pipeline.linearity import pointwise_affine

onnx = pytest.importorskip("onnx")


def _session(nodes, inits, c_out):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "task", [helper.make_tensor_value_info("feature", TensorProto.FLOAT, ["N", 6, 9, 11])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", c_out, 9, 11])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"feature": x})[0]


@pytest.fixture
def feats():
    return np.maximum(np.random.default_rng(1).normal(size=(1, 6, 9, 11)), 0).astype(np.float32)


def _w(*shape, seed=2):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_reference_task_network_is_pointwise_affine(reference):
    nets, bundle = reference
    x = np.maximum(np.random.default_rng(0).normal(size=(1, *bundle.feature_shape)), 0).astype(np.float32)
    assert pointwise_affine(nets.scores, x)


def test_one_by_one_conv_with_bias_passes(feats):
    from onnx import helper

    task = _session([helper.make_node("Conv", ["feature", "w", "b"], ["scores"])],
                    {"w": _w(4, 6, 1, 1), "b": _w(4, seed=3)}, 4)
    assert pointwise_affine(task, feats)


def test_spatial_kernel_fails(feats):
    from onnx import helper

    task = _session([helper.make_node("Conv", ["feature", "w"], ["scores"], pads=[1, 1, 1, 1])],
                    {"w": _w(4, 6, 3, 3)}, 4)
    assert not pointwise_affine(task, feats)


def test_nonlinearity_between_layers_fails(feats):
    from onnx import helper

    task = _session([helper.make_node("Conv", ["feature", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
                     helper.make_node("Conv", ["r", "w2"], ["scores"])],
                    {"w1": _w(8, 6, 1, 1), "b1": _w(8, seed=4), "w2": _w(4, 8, 1, 1, seed=5)}, 4)
    assert not pointwise_affine(task, feats)
