"""A bundle whose hashes match but whose ONNX files are some other network: one line naming the bundle, the file
and what does not fit, from load_bundle, `edgeseg inspect` and `edgeseg run` alike; onnxruntime's refusals at
run time (shapes the static check cannot see) are one-line BundleErrors too."""

from __future__ import annotations

import json
import shutil

import clips
import numpy as np
import pytest
import tiny_bundle
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from edgeseg.backend import open_backend
from edgeseg.backend.bundle import load_bundle, write_manifest
from edgeseg.backend.ort import ort_cause
from edgeseg.cli import main
from edgeseg.errors import BundleError

F32 = TensorProto.FLOAT


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tiny_bundle.make(tmp_path_factory.mktemp("tiny") / "b")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.translate_clip(tmp_path_factory.mktemp("c") / "c.mp4", size=(96, 64), frames=6)


@pytest.fixture
def copy(good, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(good, dst)
    return dst


def _replace(bundle, name, nodes, inits, inp, out):
    """Write another network as `name` and re-hash the manifest (the hash check passes)."""
    tiny_bundle._save(nodes, inits, inp, out, bundle / name)
    write_manifest(bundle, json.loads((bundle / "manifest.json").read_text()))


def _matmul(k_in, k_out, name="w"):
    return numpy_helper.from_array(np.ones((k_in, k_out), np.float32), name)


def _conv(c_in, c_out, name="w"):
    return numpy_helper.from_array(np.ones((c_out, c_in, 1, 1), np.float32), name)


def _one_line_errors(bundle, clip) -> tuple[str, str, str]:
    """The message of load_bundle's BundleError and the single lines of `inspect` and `run`."""
    with pytest.raises(BundleError) as info:
        load_bundle(bundle)
    lines = []
    for argv in (["inspect", str(bundle)], ["run", str(clip.path), "--model", str(bundle), "--max-frames", "3"]):
        res = CliRunner().invoke(main, argv)
        assert res.exit_code == 1, res.output
        assert "Traceback" not in res.output and isinstance(res.exception, SystemExit), res.output
        errors = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error: ")]
        assert len(errors) == 1, res.output
        lines.append(errors[0])
    assert "\n" not in str(info.value)
    return str(info.value), *lines


def test_feature_network_of_another_rank(copy, clip):
    # x: N×8 → y: N×4, the shape of the network (onnxruntime: "Invalid rank for input: x Got: 4 Expected: 2")
    _replace(copy, "feature.onnx", [helper.make_node("MatMul", ["x", "w"], ["y"])], [_matmul(8, 4)],
             ("x", ["N", 8]), ("y", ["N", 4], F32))
    for msg in _one_line_errors(copy, clip):
        assert str(copy) in msg and "feature.onnx is not the feature network" in msg
        assert "its input x has rank 2 (?×8); expected rank 4, N×3×16×24 images (the manifest's input size)" in msg


def test_feature_network_for_another_input_size(copy, clip):
    _replace(copy, "feature.onnx", [helper.make_node("Conv", ["image", "w"], ["feature"])], [_conv(3, 4)],
             ("image", ["N", 3, 32, 32]), ("feature", ["N", 4, 32, 32], F32))
    msg = _one_line_errors(copy, clip)[2]
    assert "feature.onnx" in msg and "its input image is ?×3×32×32, axis 2 is 32; expected N×3×16×24 images" in msg


def test_feature_network_with_other_channels_than_the_manifest(copy, clip):
    _replace(copy, "feature.onnx", [helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[4, 4],
                                                     strides=[4, 4]), helper.make_node("Conv", ["p", "w"], ["feature"])],
             [_conv(3, 6)], ("image", ["N", 3, 16, 24]), ("feature", ["N", 6, 4, 6], F32))
    msg = _one_line_errors(copy, clip)[0]
    assert "its output feature is ?×6×4×6, axis 1 is 6; expected N×C×h×w features as the manifest records (4×4×6)" in msg


def test_task_network_with_another_class_count(copy, clip):
    _replace(copy, "task.onnx", [helper.make_node("Conv", ["feature", "w"], ["scores"])], [_conv(4, 5)],
             ("feature", ["N", 4, 4, 6]), ("scores", ["N", 5, 4, 6], F32))
    for msg in _one_line_errors(copy, clip):
        assert "task.onnx is not the task network" in msg
        assert "its output scores is ?×5×4×6, axis 1 is 5; expected N×3×h×w scores, one channel per class" in msg


def test_task_network_for_other_features(copy, clip):
    _replace(copy, "task.onnx", [helper.make_node("Conv", ["feature", "w"], ["scores"])], [_conv(7, 3)],
             ("feature", ["N", 7, 4, 6]), ("scores", ["N", 3, 4, 6], F32))
    msg = _one_line_errors(copy, clip)[1]
    assert "task.onnx" in msg and "its input feature is ?×7×4×6, axis 1 is 7; expected N×4×h×w features" in msg


def test_labels_network_that_gives_scores(copy, clip):
    _replace(copy, "task_labels.onnx", [helper.make_node("Conv", ["feature", "w"], ["labels"])], [_conv(4, 3)],
             ("feature", ["N", 4, 4, 6]), ("labels", ["N", 3, 4, 6], F32))
    assert "task_labels.onnx is not the labels network" in _one_line_errors(copy, clip)[0]


def test_garbage_network_file(copy, clip):
    (copy / "task.onnx").write_bytes(b"\xff\xfe not protobuf at all \x00" * 8)
    write_manifest(copy, json.loads((copy / "manifest.json").read_text()))
    for msg in _one_line_errors(copy, clip):
        assert str(copy) in msg and "task.onnx: not " in msg and "ONNX model" in msg


def test_a_fitting_bundle_still_loads_and_runs(good, clip, tmp_path):
    assert load_bundle(good).name == "tiny"
    res = CliRunner().invoke(main, ["run", str(clip.path), "--model", str(good), "--max-frames", "3",
                                    "--stats", str(tmp_path / "s.jsonl")])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 3


def test_what_only_onnxruntime_sees_is_a_one_line_bundle_error(copy, clip):
    # symbolic channels pass the static check; the 5-channel convolution fails on the 3-channel images at run time
    _replace(copy, "feature.onnx", [helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[4, 4],
                                                     strides=[4, 4]), helper.make_node("Conv", ["p", "w"], ["feature"])],
             [_conv(5, 4)], ("image", ["N", "C", "H", "W"]), ("feature", ["N", 4, "h", "w"], F32))
    backend = open_backend(load_bundle(copy), "ort-cpu", threads=1)
    with pytest.raises(BundleError) as info:
        backend.features(np.zeros((1, 3, 16, 24), np.float32))
    msg = str(info.value)
    assert msg.startswith(f"{copy / 'feature.onnx'}: onnxruntime cannot run this network of the bundle on its "
                          "input (image 1×3×16×24): ")
    assert "\n" not in msg and "[ONNXRuntimeError]" not in msg
    res = CliRunner().invoke(main, ["run", str(clip.path), "--model", str(copy), "--max-frames", "3"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {copy / 'feature.onnx'}: onnxruntime cannot run"), lines


def test_ort_cause_is_one_line_cut_after_a_word():
    class Fake(Exception):
        pass

    exc = Fake("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Invalid rank for input: x Got: 4 Expected: 2 Please "
               "fix either the inputs/outputs or the model.\nsecond line")
    assert ort_cause(exc) == ("Invalid rank for input: x Got: 4 Expected: 2 Please fix either the inputs/outputs or "
                              "the model. second line")
    cut = ort_cause(Fake("word " * 100), limit=42)
    assert cut.endswith("word…") and len(cut) <= 43 and "\n" not in cut


def test_graph_io_read_from_the_wire_format_equals_onnx(good):
    """The contract reads inputs and outputs without importing onnx; the same as onnx's own parse."""
    import onnx

    from edgeseg.backend.contract import _graph_io
    from edgeseg.backend.networks import default_bundle_path

    def by_onnx(path):
        m = onnx.load(str(path))
        inits = {i.name for i in m.graph.initializer}

        def io(values):
            return [(v.name, v.type.tensor_type.elem_type,
                     [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                      for d in v.type.tensor_type.shape.dim]) for v in values]

        return io(i for i in m.graph.input if i.name not in inits), io(m.graph.output)

    files = sorted(good.glob("*.onnx")) + sorted(default_bundle_path().glob("*.onnx"))
    assert len(files) >= 5
    for path in files:
        assert _graph_io(path) == by_onnx(path), path
    assert _graph_io(default_bundle_path() / "feature.onnx")[0] == [("image", TensorProto.FLOAT, [None, 3, 360, 480])]
