"""Foreign ONNX split, int8 calibration, and every bad input of `edgeseg export` (one line, exit 1)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import export_cli
import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.backend.bundle import load_bundle
from edgeseg.backend.ort import OrtRunner
from edgeseg.cli import main

torch = pytest.importorskip("torch")
ASPP_OUT = "/m/classifier/classifier.0/project/project.2/Relu_output_0"
ASPP_BRANCH = "/m/classifier/classifier.0/convs.0/convs.0.2/Relu_output_0"



@pytest.fixture(scope="module")
def full_onnx(tmp_path_factory):
    """A whole torchvision DeepLab (5 classes) as someone else's ONNX file: logits at full resolution."""
    from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

    torch.manual_seed(0)
    model = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, aux_loss=False, num_classes=5).eval()

    class Whole(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):
            return self.m(x)["out"]

    path = tmp_path_factory.mktemp("foreign") / "seg.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Whole().eval(), (torch.randn(1, 3, 64, 96),), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          dynamo=False)
    return path


def test_foreign_onnx_split_after_aspp(full_onnx, tmp_path):
    res = CliRunner().invoke(main, ["export", str(full_onnx), "--split", ASPP_OUT, "--out", str(tmp_path / "b"),
                                    "--no-engines"])
    assert res.exit_code == 0, res.output
    assert f"crossing tensors ['{ASPP_OUT}']" in res.output and "trailing upsampling: bilinear" in res.output
    b = load_bundle(tmp_path / "b")
    assert b.input_name == "input" and b.input_hw == (64, 96) and b.stride == 16
    assert b.feature.output == ASPP_OUT and b.task.input == ASPP_OUT
    assert b.task.extra["upsample"] == "bilinear" and b.task.extra["shape"] == ["N", 5, 4, 6]
    # upsample(task(feature(x))) equals the whole model, batch 2
    from torch.nn import functional as F

    x = np.random.default_rng(3).standard_normal((2, 3, 64, 96)).astype(np.float32)
    whole = OrtRunner(full_onnx).run({"input": x})["logits"]
    f = OrtRunner(b.feature.file).run({"input": x})[ASPP_OUT]
    s = OrtRunner(b.task.file).run({ASPP_OUT: f})[b.task.output]
    assert s.shape == (2, 5, 4, 6)
    up = F.interpolate(torch.from_numpy(s), size=(64, 96), mode="bilinear", align_corners=False).numpy()
    assert np.abs(up - whole).max() <= 1e-3
    labels = OrtRunner(b.task_labels.file).run({ASPP_OUT: f})["labels"]
    assert labels.dtype == np.uint8 and (labels == whole.argmax(1)).mean() > 0.999


def test_foreign_split_tensor_not_found_lists_candidates(full_onnx, tmp_path):
    msg = export_cli.fails(full_onnx, "--split", "no_such_tensor", "--out", tmp_path / "b")
    assert "split tensor 'no_such_tensor' not found; candidates:" in msg and "/m/classifier/" in msg


def test_foreign_cut_that_is_not_a_single_tensor_names_the_crossing(full_onnx, tmp_path):
    msg = export_cli.fails(full_onnx, "--split", ASPP_BRANCH, "--out", tmp_path / "b")
    assert "not a single-tensor cut; tensors crossing it:" in msg and ASPP_BRANCH in msg and "/m/backbone/" in msg


def test_foreign_auto_split_cuts_before_the_last_conv(full_onnx, tmp_path):
    res = CliRunner().invoke(main, ["export", str(full_onnx), "--out", str(tmp_path / "b"), "--no-engines"])
    assert res.exit_code == 0, res.output
    b = load_bundle(tmp_path / "b")
    split = b.manifest["split"]
    assert split["auto"] is True and split["candidates"][-1]["tensor"] == b.feature.output
    assert split["candidates"][-1]["task_share"] <= 0.10 and b.task.extra["upsample"] == "bilinear"
    assert b.feature_shape == (256, 4, 6) and b.manifest["feature"]["stride"] == 16  # after the head's ReLU
    assert b.manifest["parity"]["max_abs_diff"] <= 1e-3


def test_int8_calibration_qdq_and_calib_frames(tmp_path):
    import clips
    import onnx

    clip = clips.translate_clip(tmp_path / "c.mp4", size=(128, 96), frames=30)
    res = CliRunner().invoke(main, ["export", "deeplabv3_mobilenet_v3_large", "--out", str(tmp_path / "b"),
                                    "--input-size", "64x96", "--num-classes", 3, "--precision", "int8",
                                    "--calib", str(clip.path), "--no-engines"])
    assert res.exit_code == 0, res.output
    b = load_bundle(tmp_path / "b")
    assert b.precision == "int8" and b.manifest["variants"]["int8"] == {"feature": "feature.int8.onnx"}
    calib = np.load(b.file("calib.npy"))
    assert calib.dtype == np.uint8 and calib.shape == (3, 64, 96, 3)  # frames 0, 10, 20 of 30
    ops = {n.op_type for n in onnx.load(str(b.file("feature.int8.onnx"))).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 96)).astype(np.float32)
    assert OrtRunner(b.net("feature", "int8").file).run({"image": x})["feature"].shape == (1, 256, 4, 6)
    assert "int8" in b.manifest["parity"] and "labels agree" in res.output


def test_int8_needs_calib(tmp_path):
    assert "--precision int8 needs --calib SOURCE" in export_cli.fails("reference", "--precision", "int8", "--out", tmp_path)


def test_unknown_model(tmp_path):
    msg = export_cli.fails("deeplabv9_huge", "--out", tmp_path / "b")
    assert msg.startswith("Error: deeplabv9_huge: unknown model") and "deeplabv3_resnet50" in msg


def test_weights_for_another_architecture(tmp_path):
    from edgeseg_export import zoo

    spec = zoo.build("deeplabv3_mobilenet_v3_large", num_classes=8, warn=lambda _m: None)
    torch.save(spec.model.state_dict(), tmp_path / "mnv3.pt")
    msg = export_cli.fails("reference", "--weights", tmp_path / "mnv3.pt", "--out", tmp_path / "b")
    assert "weights do not fit reference" in msg and ("missing" in msg or "shape mismatches" in msg)
    assert "backbone." in msg or "classifier." in msg


def test_weights_file_that_is_no_state_dict(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"definitely not a checkpoint")
    assert "not a PyTorch state dict" in export_cli.fails("reference", "--weights", tmp_path / "w.pt", "--out", tmp_path / "b")
    assert "no such weights file" in export_cli.fails("reference", "--weights", tmp_path / "nope.pt", "--out", tmp_path / "b")


@pytest.mark.parametrize("size", ["360", "360x", "axb", "0x480", "360x480x3", "-1x20"])
def test_malformed_input_size(tmp_path, size):
    msg = export_cli.fails("reference", "--input-size", size, "--out", tmp_path / "b")
    assert f"--input-size {size!r}: expected HxW" in msg


def test_classes_that_do_not_fit(tmp_path):
    (tmp_path / "c.json").write_text('["a", "b"]')
    assert "--classes lists 2 names but --num-classes is 3" in export_cli.fails(
        "reference", "--classes", tmp_path / "c.json", "--num-classes", 3, "--out", tmp_path / "b")
    (tmp_path / "bad.json").write_text('["a", ')
    assert "not a valid JSON list" in export_cli.fails("reference", "--classes", tmp_path / "bad.json", "--out", tmp_path / "b")


def test_split_point_not_found(tmp_path):
    msg = export_cli.fails("reference", "--split", "classifier.9", "--input-size", "64x96", "--out", tmp_path / "b")
    assert "split point 'classifier.9' not found; candidates: backbone, classifier.0" in msg


def test_output_dir_not_writable(tmp_path):
    (tmp_path / "file").write_text("x")
    msg = export_cli.fails("reference", "--out", tmp_path / "file" / "b")
    assert msg == f"Error: --out {tmp_path / 'file' / 'b'}: directory {tmp_path / 'file'} is not a directory"
    msg = export_cli.fails("reference", "--out", tmp_path / "nodir" / "b")  # parents are never created
    assert msg == f"Error: --out {tmp_path / 'nodir' / 'b'}: directory {tmp_path / 'nodir'} does not exist"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_without_torch_says_how_to_install(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "torchvision"):
                    raise ImportError("blocked for this test: " + name)
        sys.meta_path.insert(0, _Block())
        from edgeseg.cli import main
        sys.argv = ["edgeseg", "export", "reference", "--out", {str(tmp_path / "b")!r}]
        main()
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "Error: edgeseg export (torch, torchvision, onnx, onnxscript) needs torch: pip install 'edgeseg[export]'"]
