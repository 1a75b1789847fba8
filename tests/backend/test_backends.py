"""Backends: onnxruntime CPU on real sessions; TensorRT / onnxruntime CUDA under the gpu marker."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_bundle

from edgeseg.backend import Backend, Runner, available_kinds, open_backend
from edgeseg.backend.bundle import load_bundle
from edgeseg.backend.engines import unavailable_reason
from edgeseg.errors import ConfigError


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(tiny_bundle.make(tmp_path_factory.mktemp("tiny") / "b"))


def _x(n=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 3, tiny_bundle.H, tiny_bundle.W)).astype(np.float32)


def test_ort_cpu_matches_numpy_and_batches(bundle):
    be = open_backend(bundle, "ort-cpu", threads=1)
    assert isinstance(be, Backend) and be.name == "ort-cpu" and not be.on_device
    assert isinstance(be.feature, Runner) and be.feature.inputs == ["image"] and be.feature.outputs == ["feature"]
    for n in (1, 3):  # dynamic batch
        x = _x(n)
        feat, scores = tiny_bundle.reference(x)
        f = be.features(x)
        np.testing.assert_allclose(f, feat, atol=1e-5)
        np.testing.assert_allclose(be.scores(f), scores, atol=1e-5)
        labels = be.labels(f)
        assert labels.shape == (n, tiny_bundle.H, tiny_bundle.W) and labels.dtype == np.uint8
        # at the centre of each 4×4 cell the bilinear upsampling is the cell's own score... nearly: check argmax
        # where the cell's margin is clear
        centre = labels[:, 1::4, 1::4]
        top2 = np.sort(scores, axis=1)
        clear = (top2[:, -1] - top2[:, -2]) > 0.5
        assert (centre[clear] == scores.argmax(1)[clear]).all()


def test_runner_run_returns_all_outputs_by_name(bundle):
    be = open_backend(bundle.path, "ort-cpu")  # a path works too
    out = be.task.run({"feature": np.ones((1, 4, 4, 6), np.float32)})
    assert set(out) == {"scores"} and out["scores"].shape == (1, 3, 4, 6)
    np.testing.assert_allclose(out["scores"][0, :, 0, 0], tiny_bundle.W_TASK.sum(1), atol=1e-6)


def test_auto_falls_back_to_cpu_here(bundle):
    kinds = available_kinds()
    assert kinds[-1] == "ort-cpu"
    be = open_backend(bundle, "auto")
    assert be.name == kinds[0]


def test_bad_kind_and_missing_gpu_are_one_line_errors(bundle):
    with pytest.raises(ConfigError, match="backend 'tpu': choose one of"):
        open_backend(bundle, "tpu")
    if unavailable_reason():
        with pytest.raises(ConfigError) as info:
            open_backend(bundle, "trt")
        assert str(info.value).startswith("backend trt: ") and "\n" not in str(info.value)


@pytest.mark.gpu
def test_trt_engines_match_onnxruntime(bundle, tmp_path):
    import shutil

    pytest.importorskip("tensorrt")
    pytest.importorskip("cupy")
    from edgeseg.backend import engines

    b = load_bundle(shutil.copytree(bundle.path, tmp_path / "b"))
    paths = engines.build_engines(b, max_batch=4)
    assert set(paths) == {"feature", "task", "task_labels"} and all(p.is_file() for p in paths.values())
    key = engines.device_key("fp32")
    assert paths["feature"].parent.name == key and "_sm" in key and "_trt" in key
    mtime = paths["feature"].stat().st_mtime_ns
    assert engines.build_engines(b)["feature"].stat().st_mtime_ns == mtime  # cached, not rebuilt
    trt_be, cpu = open_backend(b, "trt"), open_backend(b, "ort-cpu")
    assert trt_be.name == "trt" and trt_be.feature.inputs == ["image"]
    for n in (1, 3):
        x = _x(n, seed=n)
        f = trt_be.features(x)
        np.testing.assert_allclose(f, cpu.features(x), atol=1e-4)
        np.testing.assert_allclose(trt_be.scores(f), cpu.scores(f), atol=1e-4)
        assert (trt_be.labels(f) == cpu.labels(f)).mean() > 0.99
    import cupy as cp

    out = trt_be.feature.run({"image": cp.asarray(_x(2))})["feature"]
    assert isinstance(out, cp.ndarray) and out.shape == (2, 4, 4, 6)


@pytest.mark.gpu
def test_ort_cuda_io_binding_matches_cpu(bundle):
    cp = pytest.importorskip("cupy")
    from edgeseg.backend.ort import cuda_available

    if not cuda_available():
        pytest.skip("onnxruntime-gpu with the CUDA provider is not installed")
    gpu, cpu = open_backend(bundle, "ort-cuda"), open_backend(bundle, "ort-cpu")
    x = _x(2)
    out = gpu.feature.run({"image": cp.asarray(x)})["feature"]
    assert isinstance(out, cp.ndarray)
    np.testing.assert_allclose(out.get(), cpu.features(x), atol=1e-4)
    np.testing.assert_allclose(gpu.scores(out), cpu.scores(cpu.features(x)), atol=1e-4)


def test_verify_and_build_engines_without_gpu_are_one_line_errors(bundle):
    from click.testing import CliRunner

    from edgeseg.cli import main

    if len(available_kinds()) > 1:
        pytest.skip("a GPU backend is present here")
    for args, text in ((["verify", str(bundle.path)], "verify needs a GPU backend"),
                       (["build-engines", str(bundle.path)], "cannot build TensorRT engines here")):
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 1 and "Traceback" not in res.output
        assert res.output.strip().splitlines() == [res.output.strip()] and text in res.output


@pytest.mark.gpu
def test_verify_cli_on_gpu(bundle, tmp_path):
    import shutil

    from click.testing import CliRunner

    from edgeseg.cli import main

    if len(available_kinds()) == 1:
        pytest.skip("no GPU backend installed (TensorRT / onnxruntime-gpu)")
    path = shutil.copytree(bundle.path, tmp_path / "b")
    res = CliRunner().invoke(main, ["verify", str(path)])
    assert res.exit_code == 0, res.output
    assert " ok" in res.output and "MISMATCH" not in res.output


def test_ort_cpu_threads_do_not_spin_between_calls_unless_asked(bundle):
    from edgeseg.backend.ort import OrtRunner

    key = "session.intra_op.allow_spinning"
    assert OrtRunner(bundle.feature.file, threads=2).session.get_session_options().get_session_config_entry(key) == "0"
    spinning = OrtRunner(bundle.feature.file, threads=2, spin=True)
    assert spinning.session.get_session_options().get_session_config_entry(key) == "1"
    x = _x(1)
    np.testing.assert_allclose(spinning.run({"image": x})["feature"], tiny_bundle.reference(x)[0], atol=1e-5)
