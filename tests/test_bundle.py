"""Bundles: loading, verification, and every corruption as a one-line BundleError / CLI error."""

from __future__ import annotations

import json
import shutil

import pytest
import tiny_bundle
from click.testing import CliRunner

from edgeseg.backend.bundle import SCHEMA_VERSION, load_bundle, read_manifest, sha256_file
from edgeseg.cli import main
from edgeseg.errors import BundleError


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return tiny_bundle.make(tmp_path_factory.mktemp("tiny") / "b")


@pytest.fixture
def copy(good, tmp_path):
    dst = tmp_path / "b"
    shutil.copytree(good, dst)
    return dst


def test_load_resolves_fields_and_files(good):
    b = load_bundle(good)
    assert b.name == "tiny" and b.input_hw == (16, 24) and b.stride == 4
    assert b.mean == (0.5, 0.5, 0.5) and b.std == (0.25, 0.25, 0.25) and b.channel_order == "RGB"
    assert b.feature.file == (good / "feature.onnx").resolve() and b.feature.output == "feature"
    assert b.task.input == "feature" and b.task.output == "scores"
    assert b.task_labels is not None and b.task_labels.output == "labels"
    assert b.classes == ["a", "b", "c"] and b.palette[2] == (0, 0, 255) and b.num_classes == 3
    assert b.feature_shape == (4, 4, 6)
    assert b.manifest["files"]["task.onnx"] == sha256_file(good / "task.onnx")
    # a manifest.json path works as well as the directory
    assert load_bundle(good / "manifest.json").path == b.path


def _error(path) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def _cli_error(path) -> str:
    res = CliRunner().invoke(main, ["inspect", str(path)])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    return lines[0]


def test_missing_file(copy):
    (copy / "task.onnx").unlink()
    assert "missing file task.onnx" in _error(copy)
    assert "missing file task.onnx" in _cli_error(copy)


def test_hash_mismatch(copy):
    with open(copy / "feature.onnx", "ab") as f:
        f.write(b"\0")
    assert "hash mismatch for feature.onnx" in _error(copy)
    assert "hash mismatch" in _cli_error(copy)
    assert load_bundle(copy, verify=False).name == "tiny"  # verify=False skips the content checks (hashes, networks)


@pytest.mark.parametrize("name", ["../outside.onnx", "/etc/passwd", "sub/../../x.onnx"])
def test_path_escaping_the_bundle(copy, name):
    m = json.loads((copy / "manifest.json").read_text())
    m["files"][name] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(m))
    assert "escapes the bundle directory" in _error(copy)
    assert "escapes the bundle directory" in _cli_error(copy)


def test_symlink_escaping_the_bundle(copy, tmp_path):
    outside = tmp_path / "outside.onnx"
    outside.write_bytes((copy / "task.onnx").read_bytes())
    (copy / "task.onnx").unlink()
    (copy / "task.onnx").symlink_to(outside)
    assert "escapes the bundle directory" in _error(copy)


def test_newer_schema(copy):
    tiny_bundle.edit_manifest(copy, schema_version=SCHEMA_VERSION + 1)
    msg = _error(copy)
    assert f"schema {SCHEMA_VERSION + 1} is newer" in msg and "upgrade edgeseg" in msg
    assert "is newer" in _cli_error(copy)


def test_network_file_not_listed(copy):
    m = json.loads((copy / "manifest.json").read_text())
    del m["files"]["task.onnx"]
    (copy / "manifest.json").write_text(json.dumps(m))
    assert "task file task.onnx is not listed" in _error(copy)


def test_not_a_bundle(tmp_path):
    assert "no such bundle directory" in _error(tmp_path / "nope")
    assert "not a bundle (no manifest.json)" in _error(tmp_path)
    assert "no such bundle directory" in _cli_error(tmp_path / "nope")


def test_malformed_manifest(copy):
    (copy / "manifest.json").write_text("{not json")
    assert "unreadable manifest" in _error(copy)
    (copy / "manifest.json").write_text(json.dumps({"schema_version": 1, "files": {"task.onnx": sha256_file(
        copy / "task.onnx")}}))
    assert "malformed manifest" in _error(copy)
    assert read_manifest(copy)["schema_version"] == 1


def test_inspect_prints_manifest_sizes_and_hash_status(good):
    res = CliRunner().invoke(main, ["inspect", str(good)])
    assert res.exit_code == 0, res.output
    assert "hashes verified" in res.output and "tiny" in res.output
    assert "feature.onnx" in res.output and " MB  sha256 " in res.output and "engines    none built" in res.output
    res = CliRunner().invoke(main, ["inspect", str(good), "--json"])
    assert json.loads(res.output)["model"] == "tiny"
