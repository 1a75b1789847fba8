"""`edgeseg export` of torchvision DeepLabs and the reference model: split, ONNX, parity, bundle.

Small inputs and random weights; the bundle's ONNX files are run with onnxruntime and compared with torch.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.backend import open_backend
from edgeseg.backend.bundle import load_bundle, sha256_file
from edgeseg.cli import main

torch = pytest.importorskip("torch")
HW = (64, 96)


def _export(*args):
    res = CliRunner().invoke(main, ["export", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res.output


def _random_weights(name, path, num_classes=21):
    from edgeseg_export import zoo

    torch.manual_seed(0)
    spec = zoo.build(name, num_classes=num_classes, warn=lambda _m: None)
    torch.save(spec.model.state_dict(), path)
    return spec.model


def _upsample(scores, hw):
    from torch.nn import functional as F

    return F.interpolate(torch.from_numpy(scores), size=hw, mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnv3")
    model = _random_weights("deeplabv3_mobilenet_v3_large", d / "w.pt")
    out = _export("deeplabv3_mobilenet_v3_large", "--out", d / "b", "--weights", d / "w.pt",
                  "--input-size", f"{HW[0]}x{HW[1]}", "--split", "auto", "--no-engines")
    return d / "b", model.eval(), out


def test_manifest_has_the_contract_fields(mobilenet):
    path, _, _ = mobilenet
    m = json.loads((path / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["model"] == "deeplabv3_mobilenet_v3_large"
    assert m["input"] == {**m["input"], "name": "image", "height": 64, "width": 96, "channel_order": "RGB",
                          "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert m["stride"] == 16
    assert m["feature"] == {"file": "feature.onnx", "input": "image", "output": "feature",
                            "shape": ["N", 256, 4, 6], "dtype": "float32", "stride": 16, "channels": 256}
    assert m["task"]["file"] == "task.onnx" and m["task"]["shape"] == ["N", 21, 4, 6]
    assert m["task"]["upsample"] == "bilinear" and m["task"]["output_stride"] == 16
    assert m["task_labels"]["file"] == "task_labels.onnx" and m["task_labels"]["dtype"] == "uint8"
    assert m["classes"][0] == "__background__" and len(m["classes"]) == 21 and len(m["palette"]) == 21
    assert m["precision"] == "fp32" and m["source"]["random_weights"] is False
    assert m["source"]["weights"] == "w.pt" and m["source"]["weights_sha256"] == sha256_file(path.parent / "w.pt")
    assert {"torch", "torchvision", "onnx", "onnxruntime", "edgeseg"} <= set(m["tools"])
    for name, digest in m["files"].items():
        assert sha256_file(path / name) == digest
    assert m["parity"]["max_abs_diff"] <= 1e-3


def test_auto_split_after_the_head_relu_and_prints_cost(mobilenet):
    path, _, out = mobilenet
    m = json.loads((path / "manifest.json").read_text())
    assert m["split"]["point"] == "classifier.3" and m["split"]["auto"] is True
    shares = {c["point"]: c["task_gflops"] / (c["task_gflops"] + c["feature_gflops"]) for c in m["split"]["candidates"]}
    assert shares["backbone"] > 0.5 and shares["classifier.0"] < 0.10 and shares["classifier.3"] < 0.01
    assert m["cost"]["task_share"] <= 0.10 and m["cost"]["feature_ms"] > m["cost"]["task_ms"] > 0
    assert "<- chosen" in out and "cost split at classifier.3: feature" in out
    assert "engines not built" not in out  # --no-engines


def test_split_files_equal_the_torch_model(mobilenet):
    path, model, _ = mobilenet
    be = open_backend(path, "ort-cpu", threads=2)
    x = torch.randn(3, 3, *HW)  # another batch size than at export: dynamic batch axis
    with torch.no_grad():
        ref = model(x)["out"]
    f = be.features(x.numpy())
    scores = be.scores(f)
    assert f.shape == (3, 256, 4, 6) and scores.shape == (3, 21, 4, 6)
    assert float((_upsample(scores, HW) - ref).abs().max()) <= 1e-3
    labels = be.labels(f)
    assert labels.shape == (3, *HW) and labels.dtype == np.uint8
    assert (labels == ref.argmax(1).numpy()).mean() > 0.999


def test_reference_model_auto_split_matches_its_recipe(tmp_path):
    from edgeseg_models import reference as ref

    out = _export("reference", "--out", tmp_path / "b", "--input-size", "64x96", "--no-engines")
    b = load_bundle(tmp_path / "b")
    assert b.manifest["split"]["point"] == ref.SPLIT_MODULE
    assert b.feature_shape[0] == ref.FEATURE_CHANNELS and b.stride == ref.OUTPUT_STRIDE
    assert b.classes == list(ref.CLASSES) and b.palette == [tuple(p) for p in ref.PALETTE]
    assert b.manifest["cost"]["task_share"] < 0.10
    assert "parity" in out


def test_resnet50_explicit_split_after_aspp(tmp_path):
    model = _random_weights("deeplabv3_resnet50", tmp_path / "w.pt", num_classes=4)
    (tmp_path / "classes.txt").write_text("road\ncar\n\nsky\ntree\n")
    _export("deeplabv3_resnet50", "--out", tmp_path / "b", "--weights", tmp_path / "w.pt", "--num-classes", 4,
            "--classes", tmp_path / "classes.txt", "--input-size", "64x64", "--split", "classifier.0", "--no-engines")
    b = load_bundle(tmp_path / "b")
    assert b.feature_shape == (256, 8, 8) and b.stride == 8  # torchvision's ResNet DeepLabs: output stride 8
    assert b.task.extra["shape"] == ["N", 4, 8, 8] and b.classes == ["road", "car", "sky", "tree"]
    x = torch.randn(1, 3, 64, 64)
    be = open_backend(b, "ort-cpu")
    with torch.no_grad():
        ref = model.eval()(x)["out"]
    assert float((_upsample(be.scores(be.features(x.numpy())), (64, 64)) - ref).abs().max()) <= 1e-3


@pytest.mark.slow
def test_resnet101_random_weights(tmp_path):
    out = _export("deeplabv3_resnet101", "--out", tmp_path / "b", "--input-size", "32x32", "--num-classes", 2,
                  "--no-engines")
    assert "RANDOM weights" in out
    b = load_bundle(tmp_path / "b")
    assert b.feature_shape == (256, 4, 4) and b.manifest["split"]["point"] == "classifier.3"
    assert b.manifest["parity"]["max_abs_diff"] <= b.manifest["parity"]["tolerance"]


def test_fp16_without_tensorrt_exports_onnx_and_defers_engines(tmp_path):
    out = _export("deeplabv3_mobilenet_v3_large", "--out", tmp_path / "b", "--input-size", "64x96",
                  "--precision", "fp16", "--num-classes", 3)
    b = load_bundle(tmp_path / "b")
    assert b.precision == "fp16"
    assert b.manifest["variants"]["fp16"] == {"feature": "feature.fp16.onnx", "task": "task.fp16.onnx",
                                              "task_labels": "task_labels.fp16.onnx"}
    import onnx

    types = {i.data_type for i in onnx.load(str(b.file("feature.fp16.onnx"))).graph.initializer}
    assert onnx.TensorProto.FLOAT16 in types
    fp16 = b.net("feature", "fp16")
    assert fp16.file.name == "feature.fp16.onnx" and fp16.input == "image"
    from edgeseg.backend.ort import OrtRunner

    x = np.random.default_rng(0).standard_normal((2, 3, *HW)).astype(np.float32)
    f16 = OrtRunner(fp16.file).run({"image": x})["feature"]
    f32 = OrtRunner(b.feature.file).run({"image": x})["feature"]
    assert f16.dtype == np.float32 and np.abs(f16 - f32).max() <= 0.05 * max(1.0, np.abs(f32).max())
    import importlib.util

    if importlib.util.find_spec("tensorrt") is None:
        assert "will be built on the target" in out
