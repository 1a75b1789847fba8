"""`edgeseg export model.onnx --split auto` on ONNX files as smp and transformers users export them: the cut
lands after the head's fusion, by the same rule as the torch exporter's, and the split files equal the model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.backend.bundle import load_bundle
from edgeseg.backend.ort import OrtRunner
from edgeseg.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")
pytest.importorskip("transformers")


def _user_onnx(name, path):
    """The whole model exported the way its users do: logits out (smp: full resolution; SegFormer: 1/4)."""
    from edgeseg_export import zoo
    from edgeseg_export.parity import calibrate_norms

    torch.manual_seed(0)
    spec = zoo.build(name, num_classes=4, warn=lambda _m: None)
    calibrate_norms(spec.model, (64, 96))

    class Whole(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = spec.model

        def forward(self, x):
            y = self.m(x)
            return y.logits if hasattr(y, "logits") else y

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Whole().eval(), (torch.randn(1, 3, 64, 96),), str(path), input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, dynamo=False)
    return path


@pytest.mark.parametrize("name, cut, upsample, align, stride", [
    ("smp:DeepLabV3Plus:resnet18", "/m/decoder/block2/block2.2/Relu_output_0", "bilinear", True, 4),
    ("segformer-b0", "/m/decode_head/activation/Relu_output_0", "bilinear", False, 4),  # logits at 1/4
    ("smp:Unet:efficientnet-b0", "/m/decoder/blocks.4/conv2/conv2.2/Relu_output_0", "none", False, 1),
])
def test_auto_split_of_library_exported_onnx(tmp_path, name, cut, upsample, align, stride):
    path = _user_onnx(name, tmp_path / "m.onnx")
    res = CliRunner().invoke(main, ["export", str(path), "--split", "auto", "--out", str(tmp_path / "b"),
                                    "--no-engines"])
    assert res.exit_code == 0, res.output
    b = load_bundle(tmp_path / "b")
    assert b.manifest["split"]["point"] == cut and b.manifest["split"]["auto"] is True
    assert b.manifest["split"]["candidates"][-1]["task_share"] <= 0.10
    assert b.task.extra["upsample"] == upsample and b.task.extra["align_corners"] is align
    assert b.manifest["feature"]["stride"] == stride == b.stride
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 96)).astype(np.float32)
    whole = OrtRunner(path).run({"input": x})["logits"]
    f = OrtRunner(b.feature.file).run({"input": x})[cut]
    labels = OrtRunner(b.task_labels.file).run({cut: f})["labels"]
    from torch.nn import functional as F

    # smp's logits are at the input size; SegFormer's at 1/4, which its users upsample bilinearly
    ref = F.interpolate(torch.from_numpy(whole), size=(64, 96), mode="bilinear").argmax(1).numpy()
    assert labels.shape == (2, 64, 96) and (labels == ref).mean() >= 0.999
