"""Checkpoints as training loops save them (prefixes, Lightning, save_pretrained), and each bad input of
bring-your-own-model export: one `Error:` line, exit code 1."""

from __future__ import annotations

import json
import warnings

import export_cli
import pytest

from edgeseg.backend.bundle import load_bundle

torch = pytest.importorskip("torch")
pytest.importorskip("segmentation_models_pytorch")
pytest.importorskip("transformers")
SMALL = ["--input-size", "64x96", "--no-engines"]




def _model(name, num_classes=3):
    from edgeseg_export import zoo
    from edgeseg_export.parity import calibrate_norms

    torch.manual_seed(0)
    spec = zoo.build(name, num_classes=num_classes, warn=lambda _m: None)
    calibrate_norms(spec.model, (64, 96))
    return spec


def _same_weights(bundle_dir, spec):
    """The exported feature network computes the calibrated model's features (the weights were loaded)."""
    from edgeseg_export.parity import smooth_images

    from edgeseg.backend.ort import OrtRunner

    b = load_bundle(bundle_dir)
    x = smooth_images(1, (64, 96), seed=3)
    f = OrtRunner(b.feature.file).run({"image": x.numpy()})["feature"]
    with torch.no_grad():
        from edgeseg_export.split import split_model

        ref = split_model(spec.staged, b.manifest["split"]["point"])[0](x).numpy()
    assert abs(f - ref).max() < 1e-3


def test_module_prefix_state_dict(tmp_path):
    spec = _model("smp:FPN:mobilenet_v2")
    torch.save({f"module.{k}": v for k, v in spec.model.state_dict().items()}, tmp_path / "dp.pth")
    out = export_cli.ok("smp:FPN:mobilenet_v2", "--weights", tmp_path / "dp.pth", "--num-classes", 3, "--out",
                  tmp_path / "b", *SMALL)
    assert "stripped key prefix 'module.'" in out
    _same_weights(tmp_path / "b", spec)


def test_lightning_checkpoint(tmp_path):
    spec = _model("smp:DeepLabV3Plus:resnet18")
    state = {f"model.{k}": v for k, v in spec.model.state_dict().items()}
    state["criterion.weight"] = torch.ones(3)  # a loss module's buffer: not part of the network
    torch.save({"epoch": 9, "global_step": 1230, "pytorch-lightning_version": "2.5.0", "state_dict": state,
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3}]}], "lr_schedulers": [],
                "hyper_parameters": {"arch": "DeepLabV3Plus", "lr": 1e-3}}, tmp_path / "epoch=9.ckpt")
    out = export_cli.ok("smp:DeepLabV3Plus:resnet18", "--weights", tmp_path / "epoch=9.ckpt", "--out",
                        tmp_path / "b", *SMALL)  # the class count comes from the checkpoint's head
    assert "stripped key prefix 'model.'" in out and "RANDOM" not in out
    _same_weights(tmp_path / "b", spec)
    assert load_bundle(tmp_path / "b").manifest["source"]["weights"] == "epoch=9.ckpt"
    assert len(load_bundle(tmp_path / "b").classes) == 3
    assert "give --num-classes N (random weights)" in export_cli.fails("smp:FPN:resnet18", "--out", tmp_path / "c")


def test_segformer_save_pretrained_directory(tmp_path):
    spec = _model("segformer-b0")
    spec.model.config.id2label = {0: "road", 1: "car", 2: "sky"}
    spec.model.save_pretrained(tmp_path / "run")
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "config.json").is_file()
    export_cli.ok("segformer-b0", "--weights", tmp_path / "run", "--out", tmp_path / "b", *SMALL)
    b = load_bundle(tmp_path / "b")
    assert b.classes == ["road", "car", "sky"] and b.manifest["architecture"]["config"]["hidden_sizes"] == [32, 64, 160, 256]
    _same_weights(tmp_path / "b", spec)
    # the same file without its config: built with segformer-b1's published hyperparameters, it does not fit
    msg = export_cli.fails("segformer-b1", "--weights", tmp_path / "run" / "model.safetensors", "--num-classes", 3, "--out",
                tmp_path / "b1")
    assert "weights do not fit segformer-b1 (published segformer-b1 hyperparameters" in msg
    assert "shape mismatches (segformer." in msg


def test_checkpoint_with_python_objects_is_not_unpickled(tmp_path):
    import argparse

    torch.save({"state_dict": {"x": torch.zeros(1)}, "hyper_parameters": argparse.Namespace(lr=0.1)},
               tmp_path / "last.ckpt")
    msg = export_cli.fails("smp:FPN:mobilenet_v2", "--weights", tmp_path / "last.ckpt", "--out", tmp_path / "b")
    assert "holds Python objects that are not loaded, for safety (argparse.Namespace)" in msg
    assert "torch.save(ckpt['state_dict'], 'weights.pt')" in msg


@pytest.mark.parametrize("name, expect", [
    ("smp:DeepLabV4:resnet18", "unknown smp architecture 'DeepLabV4' (choose one of Unet, UnetPlusPlus"),
    ("smp:FPN:resnet19", "unknown smp encoder 'resnet19' (choose one of resnet18, resnet34"),
    ("smp:FPN", "expected smp:<Arch>:<encoder>"),
    ("segformer-b9", "unknown SegFormer (choose one of segformer-b0, segformer-b1"),
    ("maskformer", "unknown model (choose one of deeplabv3_mobilenet_v3_large"),
])
def test_unknown_architecture_or_encoder_lists_the_valid_ones(tmp_path, name, expect):
    assert expect in export_cli.fails(name, "--out", tmp_path / "b")


def test_weights_for_another_architecture_or_class_count(tmp_path):
    torch.save(_model("smp:FPN:mobilenet_v2").model.state_dict(), tmp_path / "fpn.pt")
    msg = export_cli.fails("smp:Unet:mobilenet_v2", "--weights", tmp_path / "fpn.pt", "--num-classes", 3, "--out", tmp_path / "b")
    assert "weights do not fit smp:Unet:mobilenet_v2" in msg and "missing" in msg and "unexpected" in msg
    assert "decoder." in msg
    msg = export_cli.fails("smp:FPN:mobilenet_v2", "--weights", tmp_path / "fpn.pt", "--num-classes", 7, "--out", tmp_path / "b")
    assert "2 shape mismatches (segmentation_head.0.weight (3, 128, 1, 1)≠(7, 128, 1, 1)" in msg


def test_segformer_config_that_does_not_match_the_weights(tmp_path):
    from edgeseg_export.segformer import VARIANTS

    torch.save(_model("segformer-b0").model.state_dict(), tmp_path / "b0.pt")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text(json.dumps({"model_type": "segformer", **VARIANTS["segformer-b1"]}))
    msg = export_cli.fails("segformer-b0", "--weights", tmp_path / "b0.pt", "--num-classes", 3, "--config", tmp_path / "cfg",
                "--out", tmp_path / "b")
    assert "weights do not fit segformer-b0 (config" in msg and "hidden_sizes [64, 128, 320, 512]" in msg
    assert "shape mismatches" in msg
    (tmp_path / "cfg" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert "not a SegFormer config (model_type 'bert')" in export_cli.fails("segformer-b0", "--config", tmp_path / "cfg",
                                                                 "--out", tmp_path / "b")


def test_onnx_without_a_cut_that_meets_the_rule_lists_the_candidates(tmp_path):
    # the last 3×3 conv is most of the cost: every single-tensor cut leaves > 10 % to the task network
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 16, 3, padding=1)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), str(tmp_path / "m.onnx"), input_names=["x"],
                          output_names=["y"], dynamo=False)
    msg = export_cli.fails(tmp_path / "m.onnx", "--out", tmp_path / "b")
    assert "--split auto: no single-tensor cut leaves the task network ≤ 10% of the FLOPs" in msg
    assert "candidates (task share):" in msg and "Relu" in msg and "(84%)" in msg
