"""`edgeseg batch`: identical to `run` through IDR shards, labels.avi, resume after SIGKILL, bad inputs."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import clips
import pytest
from click.testing import CliRunner
from reference_run import assert_same_as_run, kill_a_shard_writer, run_reference

from edgeseg.batch.engines import LocalEngine
from edgeseg.batch.inputs import expand_inputs
from edgeseg.batch.job import exact_shards, run_batch
from edgeseg.batch.shards import plan_shards, scan_file
from edgeseg.batch.worker import ShardTask
from edgeseg.cli import main
from edgeseg.pipeline import SegmentSpec
from edgeseg.sink import read_labels


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory):
    """B-frames, 4 reference frames, an IDR every 8 frames (5 closed GOPs)."""
    path = tmp_path_factory.mktemp("batch") / "gops.mp4"
    return clips.object_clip(path, size=(160, 96), frames=40, shift_xy=(2.0, 1.0), box=(30, 20, 64, 48),
                             bframes=3, refs=4, gop=8)


def test_scan_finds_closed_gops(gop_clip):
    scan = scan_file(str(gop_clip.path))
    assert scan.frames == 40 and [c.index for c in scan.cuts] == [8, 16, 24, 32]
    assert [(s.start, s.end) for s in plan_shards(scan, shard_frames=1)] == [(0, 8), (8, 16), (16, 24), (24, 32),
                                                                            (32, 40)]
    assert [(s.start, s.end) for s in plan_shards(scan, shard_frames=12)] == [(0, 16), (16, 32), (32, 40)]
    assert len(plan_shards(scan, shard_frames=1, exact=False)) == 1
    assert not exact_shards(SegmentSpec(keyframes="adaptive")) and not exact_shards(SegmentSpec(iframe_keys=False))


@pytest.mark.parametrize("spec", [SegmentSpec(mode="interp", keyframe_interval=5, fusion="photometric"),
                                  SegmentSpec(mode="prop", keyframe_interval=3)], ids=["interp", "prop"])
def test_batch_equals_run_with_tiny_shards(tmp_path, gop_clip, spec):
    labels = run_reference(gop_clip.path, spec, tmp_path / "run.jsonl")
    summary = run_batch([str(gop_clip.path)], out=tmp_path / "out", spec=spec, engine=LocalEngine(workers=2),
                        shard_frames=1, echo=lambda _: None)
    assert (summary.ok, summary.failed, summary.frames) == (1, 0, 40)
    out_dir = tmp_path / "out" / "gops.mp4"
    assert_same_as_run(out_dir, labels, tmp_path / "run.jsonl")
    line = json.loads((tmp_path / "out" / "manifest.jsonl").read_text())
    assert line["status"] == "ok" and line["frames"] == 40 and line["shards"] == 5
    assert sorted(p.name for p in out_dir.iterdir()) == ["labels.avi", "stats.jsonl"]  # no parts, no temporaries


def test_bad_inputs_are_recorded_and_the_rest_is_done(tmp_path, gop_clip):
    empty, text, cut = tmp_path / "empty.mp4", tmp_path / "notes.mp4", tmp_path / "cut.mp4"
    empty.write_bytes(b"")
    text.write_text("not a video\n")
    data = gop_clip.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([str(gop_clip.path), str(tmp_path / "missing.mp4"), str(empty), str(text),
                                  str(cut)]) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", f"@{listing}", "--out", str(out), "--workers", "1",
                                       "--mode", "prop", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "batch: 1 ok, 4 failed, 0 skipped" in result.output
    lines = {json.loads(x)["input"]: json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()}
    assert lines[str(gop_clip.path)]["status"] == "ok"
    causes = {os.path.basename(k): v["error"] for k, v in lines.items() if v["status"] == "error"}
    assert "no such file" in causes["missing.mp4"] and "empty" in causes["empty.mp4"]
    assert "not a video" in causes["notes.mp4"] and "truncated" in causes["cut.mp4"]
    assert all("\n" not in c for c in causes.values())


def test_inputs_are_scanned_as_workers_free_up_and_one_bar_counts_all_frames(tmp_path, capsys):
    """With one worker (two shards in hand), input 4 is scanned only after a shard has finished: its error
    line follows an ok line in the manifest. The bar's total is the containers' frame counts of the inputs
    that could be read, and it ends full."""
    paths = [clips.translate_clip(tmp_path / f"in{k}.mp4", size=(96, 64), frames=12, seed=k).path for k in range(3)]
    paths.append(tmp_path / "in3.mp4")  # missing
    summary = run_batch([str(p) for p in paths], out=tmp_path / "out", spec=SegmentSpec(mode="frame"),
                        engine=LocalEngine(workers=1), progress=True, echo=lambda _: None)
    assert (summary.ok, summary.failed) == (3, 1)
    status = [json.loads(x)["status"] for x in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert status.index("ok") < status.index("error")
    bar = capsys.readouterr().err
    assert "36/36" in bar and "/48" not in bar


def test_pool_workers_take_the_gpus_in_turn(tmp_path, gop_clip, monkeypatch):
    """Each pool worker sees one of the devices it was given (CUDA_VISIBLE_DEVICES, set before any CUDA
    library loads); shards record the device they ran on. Here the networks run on the CPU either way."""
    from edgeseg.batch.engines import visible_gpus

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ("3", "5")
    engine, records = LocalEngine(workers=2, gpus=visible_gpus()), []
    engine.start(wait=True)  # both workers up (and idle) before the shards are handed out
    tasks = [ShardTask(path=str(gop_clip.path), parts=str(tmp_path / f"p{k}"), shard=s, spec=SegmentSpec(mode="frame"))
             for k, s in enumerate(plan_shards(scan_file(str(gop_clip.path)), shard_frames=8))]
    for task in tasks:  # as run_batch prepares them
        Path(task.parts).mkdir()
    engine.run(tasks, lambda _t, record, error: records.append((record, error)))
    assert all(error is None for _r, error in records) and len(records) == 5, records
    by_pid = {r["pid"]: r["gpu"] for r, _e in records}
    assert sorted(by_pid.values()) == ["3", "5"]  # two workers, one device each
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus() == ()


def _children(pid: int) -> set[int]:
    return {int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # zombies are dead
    except OSError:
        return False


@pytest.mark.parametrize("how", ["SIGKILL to the process group", "SIGTERM to the batch process"])
def test_resume_after_a_kill(tmp_path, how):
    """Killed mid-batch (SIGKILL to it and its workers; or SIGTERM to the batch alone, as `kill PID` does, its
    workers dying with it): a rerun does only what is left, and the outputs end complete."""
    for d in "abcd":
        (tmp_path / "in" / d).mkdir(parents=True)
    paths = [clips.object_clip(tmp_path / "in" / d / "clip.mp4", size=(160, 96), frames=24, bframes=2, gop=8,
                               shift_xy=(1.0 + k, 0.5), box=(20, 20, 48, 40)).path
             for k, d in enumerate(["a", "b", "c", "d"])]
    out = tmp_path / "out"
    manifest = out / "manifest.jsonl"
    cmd = [sys.executable, "-m", "edgeseg", "batch", str(tmp_path / "in"), "--out", str(out), "--workers", "1",
           "--shard-frames", "8", "--mode", "frame", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while proc.poll() is None and not (manifest.exists() and manifest.read_text().count("\n") >= 1):
            time.sleep(0.02)
        workers = _children(proc.pid)
        if how.startswith("SIGKILL"):
            os.killpg(proc.pid, signal.SIGKILL)  # the batch and its pool worker, mid-batch
        else:
            os.kill(proc.pid, signal.SIGTERM)
    finally:
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # a worker left running would write parts while the rerun stitches them
    assert workers and not any(_alive(w) for w in workers)
    first = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert 1 <= len(first) < 4, "the batch ended before it could be killed"
    done = {line["name"]: (out / line["name"] / "labels.avi").stat().st_mtime_ns for line in first}
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{4 - len(first)} ok, 0 failed, {len(first)} skipped" in rerun.stderr
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert sorted(x["name"] for x in lines) == ["a/clip.mp4", "b/clip.mp4", "c/clip.mp4", "d/clip.mp4"]
    for name, mtime in done.items():  # finished inputs were not redone
        assert (out / name / "labels.avi").stat().st_mtime_ns == mtime
    for path in paths:
        name = path.relative_to(tmp_path / "in").as_posix()
        assert len(list(read_labels(out / name / "labels.avi"))) == 24
        assert len((out / name / "stats.jsonl").read_text().splitlines()) == 24
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".tmp-") or p.name == ".parts"]
    assert leftovers == []


def test_killed_pool_worker_is_retried_and_output_is_exact(tmp_path, gop_clip):
    spec = SegmentSpec(mode="prop", keyframe_interval=3)
    labels = run_reference(gop_clip.path, spec, tmp_path / "run.jsonl")
    out, result, engine = tmp_path / "out", {}, LocalEngine(workers=2, retries=2)
    batch = threading.Thread(target=lambda: result.update(summary=run_batch(
        [str(gop_clip.path)], out=out, spec=spec, engine=engine, shard_frames=8, echo=lambda _: None)))
    batch.start()
    killed = kill_a_shard_writer(out, batch)  # a pool process, mid-shard
    batch.join()
    assert killed is not None, "no shard was caught in flight"
    assert engine.restarts >= 1  # the pool was rebuilt and the lost shards ran again
    assert (result["summary"].ok, result["summary"].failed, result["summary"].frames) == (1, 0, 40)
    assert_same_as_run(out / "gops.mp4", labels, tmp_path / "run.jsonl")
    assert not any(p.name.startswith(".tmp-") or p.name == ".parts" for p in out.rglob("*"))


def test_inputs_are_named_by_their_path_and_outputs_are_never_inputs(tmp_path):
    for rel in ("cam1/a.mp4", "cam2/a.mp4", "cam2/deep/b.mkv", "cam2/notes.txt", "out/cam1/a.mp4/overlay.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# cameras\ncam1/a.mp4\n\ncam2\n")
    items = expand_inputs([str(tmp_path), f"@{tmp_path / 'list.txt'}"], skip=tmp_path / "out")
    assert [i.name for i in items] == ["cam1/a.mp4", "cam2/a.mp4", "cam2/deep/b.mkv"]
    assert [i.name for i in expand_inputs([str(tmp_path / "cam2" / "a.mp4")])] == ["a.mp4"]


def test_truncated_input_is_kept_up_to_where_its_data_ends_as_run_does(tmp_path, gop_clip):
    """A cut-off copy (the index at the front, the second half of the bytes gone): batch segments what it holds
    as `run` does (the same label maps and stats), keeps it under the normal names and counts it ok, its
    manifest line saying truncated; a copy cut inside its first frame is still a failure."""
    data = clips.remux(gop_clip.path, tmp_path / "fast.mp4", movflags="faststart").read_bytes()
    cut, stub = tmp_path / "in" / "cut.mp4", tmp_path / "in" / "stub.mp4"
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2])
    stub.write_bytes(data[: len(data) * 8 // 100])  # the index and part of the first frame
    spec = SegmentSpec(mode="interp", keyframe_interval=5, fusion="photometric")
    labels = run_reference(cut, spec, tmp_path / "run.jsonl")
    assert 8 < len(labels) < 40
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--workers", "1", "--shard-frames", "1", "--mode",
            "interp", "-k", "5", "--fusion", "photometric", "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output  # the stub failed
    assert "batch: 1 ok, 1 failed, 0 skipped, 1 truncated" in result.output
    assert_same_as_run(out / "cut.mp4", labels, tmp_path / "run.jsonl")
    lines = {json.loads(x)["name"]: json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()}
    line = lines["cut.mp4"]
    assert line["status"] == "ok" and line["truncated"] is True and line["frames"] == len(labels)
    assert line["note"] == f"{cut}: truncated video (file ends after 17 of 40 frames)"
    assert [x for x in result.output.splitlines() if x.startswith("ok cut.mp4")][0].endswith("kept up to there")
    assert lines["stub.mp4"]["status"] == "error" and "no decodable frames" in lines["stub.mp4"]["error"]
    assert sorted(p.name for p in (out / "cut.mp4").iterdir()) == ["labels.avi", "stats.jsonl"]
    assert not (out / "stub.mp4").exists()  # nothing left of it
    again = CliRunner().invoke(main, args)  # a rerun: the truncated input is done, the stub tried again
    assert "batch: 0 ok, 1 failed, 1 skipped" in again.output, again.output
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 2


def test_manifest_holds_one_line_per_input_after_every_run(tmp_path):
    """Reruns append a line per input tried again while they run; when a batch ends, the manifest is rewritten
    to the latest line of each input."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(3):
        clips.translate_clip(inputs / f"clip{k}.mp4", size=(64, 48), frames=4, seed=k)
    for k in range(5):
        (inputs / f"notes{k}.mp4").write_text("not a video\n")
    out = tmp_path / "out"
    args = ["batch", str(inputs), "--out", str(out), "--workers", "1", "--mode", "frame", "--no-progress"]
    for summary in ("3 ok, 5 failed, 0 skipped", "0 ok, 5 failed, 3 skipped", "0 ok, 5 failed, 3 skipped"):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and summary in result.output, result.output
        lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
        assert len(lines) == 8 and len({x["input"] for x in lines}) == 8
        assert sorted(x["status"] for x in lines) == ["error"] * 5 + ["ok"] * 3
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_interrupted_batch_leaves_one_line_per_input(tmp_path):
    """Ctrl-C (SIGINT) mid-batch: the batch stops, and the manifest (with lines repeated by earlier runs) is
    rewritten to one line per input; the input finished before the interrupt stays finished."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(4):
        clips.object_clip(inputs / f"c{k}.mp4", size=(160, 96), frames=24, bframes=2, gop=8,
                          shift_xy=(1.0 + k, 0.5), box=(20, 20, 48, 40))
    out = tmp_path / "out"
    out.mkdir()
    earlier = [{"input": str(inputs / f"c{k}.mp4"), "name": f"c{k}.mp4", "status": "error", "error": "x"}
               for k in range(4)] * 3
    (out / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in earlier))
    cmd = [sys.executable, "-m", "edgeseg", "batch", str(inputs), "--out", str(out), "--workers", "1",
           "--shard-frames", "8", "--mode", "frame", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    manifest = out / "manifest.jsonl"
    while proc.poll() is None and manifest.read_text().count("\n") <= 12:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert sorted(x["name"] for x in lines) == ["c0.mp4", "c1.mp4", "c2.mp4", "c3.mp4"], err
    assert any(x["status"] == "ok" for x in lines)
    assert proc.returncode != 0 and "Aborted" in err, "the batch ended before it could be interrupted"
    assert 1 <= [x["status"] for x in lines].count("ok") < 4
