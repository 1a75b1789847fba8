"""`edgeseg batch --ray`: real Ray on this machine; a worker killed mid-shard is retried, the output is exact."""

import threading

import clips
import pytest
from reference_run import assert_same_as_run, kill_a_shard_writer, run_reference

from edgeseg.batch.engines import RAY_HINT, RayEngine
from edgeseg.batch.job import run_batch
from edgeseg.errors import ConfigError
from edgeseg.pipeline import SegmentSpec

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_killed_ray_worker_is_retried_and_output_is_exact(tmp_path, local_ray):
    clip = clips.object_clip(tmp_path / "long.mp4", size=(160, 96), frames=48, shift_xy=(2.0, 1.0),
                             box=(30, 20, 64, 48), bframes=2, refs=2, gop=8)
    spec = SegmentSpec(mode="interp", keyframe_interval=4)
    labels = run_reference(clip.path, spec, tmp_path / "run.jsonl")
    out = tmp_path / "out"
    result: dict = {}
    batch = threading.Thread(target=lambda: result.update(summary=run_batch(
        [str(clip.path)], out=out, spec=spec, engine=RayEngine(retries=2), shard_frames=16, echo=lambda _: None)))
    batch.start()
    killed = kill_a_shard_writer(out, batch)  # the Ray worker process, mid-shard
    batch.join()
    assert killed is not None, "no shard was caught in flight"
    summary = result["summary"]
    assert (summary.ok, summary.failed, summary.frames) == (1, 0, 48)
    assert_same_as_run(out / "long.mp4", labels, tmp_path / "run.jsonl")
    assert not any(p.name.startswith(".tmp-") or p.name == ".parts" for p in out.rglob("*"))


def test_missing_ray_is_a_one_line_hint(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(ConfigError) as err:
        RayEngine()
    assert str(err.value) == RAY_HINT


def test_gpus_per_shard_on_a_cluster_without_gpus_is_one_line(tmp_path, local_ray):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(64, 48), frames=4)
    with pytest.raises(ConfigError) as err:
        run_batch([str(clip.path)], out=tmp_path / "out", spec=SegmentSpec(), engine=RayEngine(num_gpus=0.25),
                  echo=lambda _: None)
    assert str(err.value) == "--gpus-per-shard 0.25: the Ray cluster (started here) has no GPUs"
    assert not (tmp_path / "out" / "c.mp4").exists()  # refused before any input was prepared


def test_gpu_options_need_each_other(tmp_path):
    from click.testing import CliRunner

    from edgeseg.cli import main

    cases = {("--gpus-per-shard", "0.5"): "--gpus-per-shard 0.5: only with --ray",
             ("--ray", "--backend", "trt"): "--backend trt with --ray needs --gpus-per-shard",
             ("--ray", "--gpus-per-shard", "2"): "Invalid value for '--gpus-per-shard'"}
    for args, message in cases.items():
        res = CliRunner().invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path / "o"), *args])
        assert res.exit_code != 0 and message in res.output, res.output
        assert "Traceback" not in res.output
