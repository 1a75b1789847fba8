"""`edgeseg run` end to end: outputs, clean stop on SIGTERM, bad inputs."""

import json
import shutil
import signal
import subprocess
import sys
import time

import av
import clips
import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.backend.networks import default_bundle_path
from edgeseg.cli import main


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "obj.mp4"
    return clips.object_clip(path, size=(480, 360), frames=150, shift_xy=(3.0, 1.0), box=(100, 100, 160, 120),
                             bframes=2)


def _count_frames(path):
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_run_writes_every_output(tmp_path, moving_clip):
    out = tmp_path / "o"
    out.mkdir()
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--mode", "interp", "-k", "5", "--max-frames",
                                    "40", "--masks", str(out / "m"), "--stats", str(out / "s.jsonl"),
                                    "--overlay", str(out / "v.mp4")])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in (out / "s.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(40))
    assert {"frame", "pts", "pict_type", "keyframe", "class_fraction", "latency_ms"} <= lines[0].keys()
    assert lines[0]["keyframe"] and sum(x["keyframe"] for x in lines) in range(8, 12)
    assert abs(sum(lines[3]["class_fraction"].values()) - 1) < 1e-3
    masks = sorted((out / "m").glob("frame-*.png"))
    assert [m.name for m in masks] == [f"frame-{i:06d}.png" for i in range(40)]  # sorted = frame order
    from edgeseg.sink.png import read_png

    m = read_png(out / "m" / "frame-000007.png")
    assert m.shape == (360, 480) and m.dtype == np.uint8
    assert _count_frames(out / "v.mp4") == 40
    assert "40 frames" in res.output


def test_photometric_fusion_changes_only_the_frames_between_keyframes(tmp_path, moving_clip):
    from edgeseg.sink.png import read_png

    def masks(*extra):
        out = tmp_path / "-".join(extra or ("linear",))
        res = CliRunner().invoke(main, ["run", str(moving_clip.path), "-k", "5", "--max-frames", "21", "--masks",
                                        str(out), "--stats", str(out / "s.jsonl"), *extra])
        assert res.exit_code == 0, res.output
        keys = [json.loads(x)["keyframe"] for x in (out / "s.jsonl").read_text().splitlines()]
        return [read_png(out / f"frame-{i:06d}.png") for i in range(21)], keys

    (linear, keys), (photo, photo_keys) = masks("--fusion", "linear"), masks()  # photometric: the default
    assert keys == photo_keys
    assert all(np.array_equal(a, b) for a, b, key in zip(linear, photo, keys, strict=True) if key)
    assert any(not np.array_equal(a, b) for a, b in zip(linear, photo, strict=True))
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--fusion", "median"])
    assert res.exit_code == 2 and "Invalid value for '--fusion'" in res.output


def test_sigterm_flushes_complete_outputs(tmp_path, moving_clip):
    stats, masks, overlay = tmp_path / "s.jsonl", tmp_path / "m", tmp_path / "v.mp4"
    cmd = [sys.executable, "-m", "edgeseg", "run", str(moving_clip.path), "--mode", "frame", "--stats", str(stats),
           "--masks", str(masks), "--overlay", str(overlay), "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and (not stats.exists() or len(stats.read_text().splitlines()) < 10):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "interrupted" in err
    n = len(stats.read_text().splitlines())
    assert 10 <= n < 150
    assert [json.loads(x)["frame"] for x in stats.read_text().splitlines()] == list(range(n))  # JSONL complete
    assert len(list(masks.glob("frame-*.png"))) == n
    assert _count_frames(overlay) == n  # the overlay was finalised: playable, every processed frame in it


def test_missing_bundle(tmp_path, moving_clip):
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--model", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert res.output.strip().startswith("Error:") and "no such bundle" in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("budget", ["0", "1.5", "-0.2"])
def test_correction_budget_outside_0_1_is_one_line(moving_clip, budget):
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--correct", budget])
    assert res.exit_code == 2
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: Invalid value for '--correct'") and last.endswith("is not in the range 0<x<=1.")


def test_corrupt_bundle(tmp_path, moving_clip):
    bundle = tmp_path / "b"
    shutil.copytree(default_bundle_path(), bundle)
    with open(bundle / "task.onnx", "r+b") as fh:
        fh.seek(20)
        fh.write(b"\x00garbage\x00")
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--model", str(bundle)])
    assert res.exit_code == 1 and "hash mismatch" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_missing_source(tmp_path):
    res = CliRunner().invoke(main, ["run", str(tmp_path / "missing.mp4")])
    assert res.exit_code == 1
    assert "missing.mp4" in res.output and len(res.output.strip().splitlines()) == 1


def test_demo_runs_offline(tmp_path):
    res = subprocess.run([sys.executable, "-m", "edgeseg", "run", "demo", "--max-frames", "12"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "edgeseg-demo.mp4").exists()
    assert str(tmp_path / "edgeseg-demo.mp4") in res.stdout
    assert _count_frames(tmp_path / "edgeseg-demo.mp4") == 12


def test_truncated_source_ends_cleanly_with_a_count(tmp_path, moving_clip):
    # Matroska is readable up to a cut (an MP4's index sits at its end)
    data = clips.remux(moving_clip.path, tmp_path / "full.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    stats = tmp_path / "s.jsonl"
    res = CliRunner().invoke(main, ["run", str(cut), "--mode", "prop", "--stats", str(stats)])
    assert res.exit_code == 0, res.output
    n = len(stats.read_text().splitlines())
    assert 0 < n < 150
    assert f"{n} frames" in res.output


def test_run_flags_are_the_segment_spec_one_to_one(tmp_path, moving_clip):
    """Every SegmentSpec field is a `run` flag of the same name; the flags reach the run (here: the label maps
    of prop with step-wise warping in feature space differ from the defaults', and both runs succeed)."""
    import dataclasses

    from edgeseg.cli.run import run
    from edgeseg.pipeline import SegmentSpec
    from edgeseg.sink.png import read_png

    dests = {p.name for p in run.params}
    assert {f.name for f in dataclasses.fields(SegmentSpec)} <= dests

    def masks(*flags):
        out = tmp_path / "_".join(flags).replace("-", "") or "default"
        res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--mode", "prop", "-k", "8", "--max-frames",
                                        "12", "--masks", str(out), *flags])
        assert res.exit_code == 0, res.output
        return [read_png(out / f"frame-{i:06d}.png") for i in range(12)]

    default, tuned = masks(), masks("--propagation", "step", "--space", "features", "--motion-stride", "8")
    assert any(not np.array_equal(a, b) for a, b in zip(default, tuned, strict=True))
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--warp-stride", "0"])
    assert res.exit_code != 0 and "--warp-stride" in res.output


def test_default_model_on_real_input_says_its_limits_once(tmp_path, moving_clip):
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--max-frames", "3"])
    assert res.exit_code == 0, res.output
    assert res.output.count("trained on synthetic streets only") == 1 and "edgeseg export" in res.output
    res = CliRunner().invoke(main, ["run", str(moving_clip.path), "--max-frames", "3", "--model",
                                    str(default_bundle_path())])
    assert "synthetic streets" not in res.output  # a model was chosen: no note
