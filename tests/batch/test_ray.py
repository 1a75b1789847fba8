"""`edgeseg batch --ray`: real Ray on this machine; a worker killed mid-shard is retried, the output is exact; a
two-node `ray start` cluster with token authentication on (as Ray ≥ 2.59 starts one where a token exists);
one-line errors within seconds for a cluster that refuses the batch or cannot be reached; `--ray` alone starts
a local Ray even where the last `ray start`'s cluster is dead."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import clips
import pytest
from reference_run import assert_same_as_run, kill_a_shard_writer, run_reference

from edgeseg.batch.engines import RAY_HINT, RayEngine
from edgeseg.batch.job import run_batch
from edgeseg.errors import ConfigError
from edgeseg.pipeline import SegmentSpec
from edgeseg.sink import read_labels

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """Ray in this process. Ray ≥ 2.59 turns token authentication on for it (setting RAY_AUTH_MODE here) and
    would create ~/.ray/auth_token: its token is a file of the test's instead, and the settings are undone."""
    token = tmp_path_factory.mktemp("ray") / "auth_token"
    token.write_text(secrets.token_hex(32))
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")}
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra) -> dict:
    """This process's environment without Ray's address and auth settings (a Ray started in this process sets
    RAY_AUTH_MODE), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS", "RAY_TMPDIR"))}
    return {**env, **extra}


def _batch(args, env, timeout=180):
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "edgeseg", "batch", *args, "--no-progress"], env=env,
                         capture_output=True, text=True, timeout=timeout)
    return res, time.monotonic() - t0


def _stop(procs) -> None:
    for proc in procs:  # the process groups this test started, by id
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def token_cluster():
    """A head and a worker node (`ray start --block`, 1 CPU each) as docs/BATCH.md starts them: the head finds a
    token (RAY_AUTH_TOKEN_PATH here, ~/.ray/auth_token by default) and so turns token authentication on by
    itself; the worker node joins with RAY_AUTH_MODE=token. Yields (address, env of a machine with the token)."""
    tmp = Path(tempfile.mkdtemp(prefix="esray", dir="/tmp"))  # short: Ray's socket paths live in it
    token = tmp / "auth_token"
    token.write_text(secrets.token_hex(32))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    ray_bin = str(Path(sys.executable).with_name("ray"))
    env = _env(RAY_AUTH_TOKEN_PATH=str(token), RAY_TMPDIR=str(tmp))
    common = ["--num-cpus=1", "--block", "--disable-usage-stats", f"--temp-dir={tmp / 'ray'}"]
    procs = [subprocess.Popen([ray_bin, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                               "--include-dashboard=false", *common], env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    token_env = {**env, "RAY_AUTH_MODE": "token"}
    try:
        status = None
        for _ in range(90):
            status = subprocess.run([ray_bin, "status", f"--address={address}"], env=token_env,
                                    capture_output=True, text=True)
            if status.returncode == 0:
                if len(procs) == 1:
                    procs.append(subprocess.Popen([ray_bin, "start", f"--address={address}",
                                                   "--node-ip-address=127.0.0.1", *common], env=token_env,
                                                  start_new_session=True, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL))
                elif "2.0 CPU" in status.stdout or "0.0/2.0 CPU" in status.stdout:
                    break
            time.sleep(1)
        else:
            pytest.fail(f"the two-node cluster did not come up: {status.stdout if status else ''}")
        yield address, token_env
    finally:
        _stop(reversed(procs))
        shutil.rmtree(tmp, ignore_errors=True)


def test_two_node_cluster_with_token_auth(tmp_path, token_cluster):
    """With RAY_AUTH_MODE=token and the head's token, the batch joins and its labels are `run`'s; without them,
    one line naming the address and the cause, within seconds."""
    address, env = token_cluster
    clip = clips.object_clip(tmp_path / "long.mp4", size=(160, 96), frames=24, shift_xy=(2.0, 1.0),
                             box=(30, 20, 64, 48), bframes=2, refs=2, gop=8)
    spec = SegmentSpec(mode="prop", keyframe_interval=3)
    labels = run_reference(clip.path, spec, tmp_path / "run.jsonl")
    args = [str(clip.path), "--out", str(tmp_path / "out"), f"--ray={address}", "--shard-frames", "8",
            "--mode", "prop", "-k", "3"]
    res, _ = _batch(args, env)
    assert res.returncode == 0, res.stderr
    assert_same_as_run(tmp_path / "out" / "long.mp4", labels, tmp_path / "run.jsonl")
    assert json.loads((tmp_path / "out" / "manifest.jsonl").read_text())["shards"] == 3

    res, seconds = _batch([*args[:2], str(tmp_path / "out2"), *args[3:]], _env())  # no token mode, no token
    assert res.returncode == 1 and seconds < 60, res.stderr
    errors = [x for x in res.stderr.splitlines() if x.startswith("Error:")]
    assert errors == [f"Error: --ray {address}: the Ray cluster there requires token authentication; "
                      "set RAY_AUTH_MODE=token here and give this machine the head node's token (its "
                      "~/.ray/auth_token, or RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH); see docs/BATCH.md"], res.stderr
    assert "Traceback" not in res.stderr and "gcs_client" not in res.stderr
    assert not (tmp_path / "out2" / "long.mp4").exists()


def test_unreachable_address_fails_in_one_line_within_seconds(tmp_path):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(64, 48), frames=4)
    address = f"127.0.0.1:{_free_port()}"
    res, seconds = _batch([str(clip.path), "--out", str(tmp_path / "out"), "--ray", address], _env(), timeout=60)
    assert res.returncode == 1 and seconds < 30, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"Error: --ray {address}: cannot reach a Ray cluster "
                                                          "there (connection refused")
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_ray_alone_starts_a_local_ray_despite_a_dead_current_cluster(tmp_path):
    """A head killed without `ray stop` leaves its address in ray_current_cluster (under Ray's temp dir,
    RAY_TMPDIR here): `--ray` alone does not try it, it starts a Ray here."""
    tmp = Path(tempfile.mkdtemp(prefix="esray", dir="/tmp"))  # short: Ray's socket paths live in it
    try:
        (tmp / "ray").mkdir()
        (tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
        (tmp / "auth_token").write_text(secrets.token_hex(32))  # Ray's token for the local cluster, not ~/.ray's
        clip = clips.translate_clip(tmp_path / "c.mp4", size=(64, 48), frames=6)
        env = _env(RAY_TMPDIR=str(tmp), RAY_AUTH_TOKEN_PATH=str(tmp / "auth_token"))
        res, _ = _batch([str(clip.path), "--out", str(tmp_path / "out"), "--mode", "frame", "--workers", "1",
                         "--ray"], env, timeout=120)
        assert res.returncode == 0, res.stderr
        assert "batch: 1 ok, 0 failed" in res.stderr
        assert len(list(read_labels(tmp_path / "out" / "c.mp4" / "labels.avi"))) == 6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
