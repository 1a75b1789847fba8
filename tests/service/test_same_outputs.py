"""One output layer: `run`, `batch` and `serve` write the same masks (names and pixels), the same stats lines
(but for wall-clock keys and serve's connection number) and the same label video for the same clip and spec."""

import json

import numpy as np
from click.testing import CliRunner
from running_service import running, wait_until

from edgeseg.cli import main
from edgeseg.service.config import parse_config
from edgeseg.sink import read_labels
from edgeseg.sink.png import read_png

SPEC = ["--mode", "interp", "-k", "5"]


def _stats(lines):
    return [{k: v for k, v in x.items() if k not in ("time", "latency_ms", "connection")} for x in lines]


def _masks(directory):
    return {p.name: read_png(p) for p in sorted(directory.glob("frame-*.png"))}


def _serve(tmp_path, bundle_dir, clip):
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "serve"), "mode": "interp", "keyframe_interval": 5,
                     "overlay": False, "stats": True, "masks": True, "label_video": True, "segment_seconds": 3600},
        "cameras": {"a": {"uri": str(clip.path)}},
        "metrics": {"enabled": False}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    with running(cfg) as svc:
        wait_until(lambda: svc.workers and svc.workers["a"].state == "finished")
    return tmp_path / "serve" / "a"


def test_run_batch_and_serve_write_the_same_outputs(tmp_path, bundle_dir, clip):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    res = CliRunner().invoke(main, ["run", str(clip.path), "--model", str(bundle_dir), *SPEC, "--masks",
                                    str(run_dir / "m"), "--stats", str(run_dir / "s.jsonl"), "--label-video",
                                    str(run_dir / "l.avi")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["batch", str(clip.path), "--model", str(bundle_dir), *SPEC, "--out",
                                    str(tmp_path / "batch"), "--outputs", "labels,stats,masks", "--workers", "1",
                                    "--no-progress"])
    assert res.exit_code == 0, res.output
    batch_dir = tmp_path / "batch" / clip.path.name
    serve_dir = _serve(tmp_path, bundle_dir, clip)

    run_stats = [json.loads(x) for x in (run_dir / "s.jsonl").read_text().splitlines()]
    batch_stats = [json.loads(x) for x in (batch_dir / "stats.jsonl").read_text().splitlines()]
    (serve_jsonl,) = serve_dir.glob("*.jsonl")
    serve_stats = [json.loads(x) for x in serve_jsonl.read_text().splitlines()]
    assert len(run_stats) == clip.frames
    assert set(run_stats[0]) == set(batch_stats[0]) == set(serve_stats[0]) - {"connection"}  # one schema
    assert _stats(run_stats) == _stats(batch_stats) == _stats(serve_stats)

    run_masks = _masks(run_dir / "m")
    assert list(run_masks) == [f"frame-{i:06d}.png" for i in range(clip.frames)]
    (serve_masks,) = (serve_dir / "masks").iterdir()
    for other in (_masks(batch_dir / "masks"), _masks(serve_masks)):
        assert list(other) == list(run_masks)
        assert all(np.array_equal(other[k], run_masks[k]) for k in run_masks)

    (serve_video,) = serve_dir.glob("*.avi")
    videos = [list(read_labels(p)) for p in (run_dir / "l.avi", batch_dir / "labels.avi", serve_video)]
    assert all(len(v) == clip.frames for v in videos)
    assert all(np.array_equal(a, b) for v in videos[1:] for a, b in zip(videos[0], v, strict=True))
    assert all(np.array_equal(a, run_masks[f"frame-{i:06d}.png"]) for i, a in enumerate(videos[0]))
