"""Rolling overlay/stats segments (every finished file playable) and retention by age and size."""

import json
import os
import time

import av
import numpy as np

from edgeseg.pipeline.result import Result
from edgeseg.service.segments import RollingOutputs, enforce_retention
from edgeseg.sink.outputs import OutputSpec
from edgeseg.source.frame import Frame


def _result(i):
    image = np.full((48, 64, 3), (i * 20) % 256, np.uint8)
    labels = np.zeros((48, 64), np.uint8)
    labels[:, : 8 * (i % 8)] = 1
    return Result(Frame(i, i / 10, "P", image), labels, i % 4 == 0, 1.5)


def test_segments_roll_by_frames_and_each_finished_file_plays(tmp_path):
    finished = []
    out = RollingOutputs(tmp_path / "cam", segment_seconds=0.5, fps=10, classes=["bg", "fg"],
                         palette=[(0, 0, 0), (255, 0, 0)], on_finished=finished.append,
                         outputs=OutputSpec(overlay=True, stats=True, masks=True))
    for i in range(12):
        out.write(_result(i), extra={"connection": 1})
    assert len(finished) == 4  # two segments of 5 frames done (mp4 + jsonl each); the third is open
    assert all(".part" not in p.name for p in finished)
    assert sorted(p.name for p in (tmp_path / "cam").glob("*.part.*"))  # the open segment's files
    out.close()
    mp4s = sorted((tmp_path / "cam").glob("*.mp4"))
    assert not list((tmp_path / "cam").glob("*.part.*")) and len(mp4s) == 3
    counts = []
    for p in mp4s:
        with av.open(str(p)) as c:
            counts.append(sum(1 for _ in c.decode(video=0)))
    assert counts == [5, 5, 2]
    lines = [json.loads(x) for p in sorted((tmp_path / "cam").glob("*.jsonl")) for x in p.read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(12))
    assert lines[3]["class_fraction"] == {"bg": 0.625, "fg": 0.375} and lines[0]["connection"] == 1
    assert len(list((tmp_path / "cam" / "masks").rglob("frame-*.png"))) == 12


def test_retention_deletes_old_then_oldest_over_size_never_open_files(tmp_path):
    now = time.time()
    files = {}
    for k, age_h in enumerate([100, 50, 30, 10, 1]):
        p = tmp_path / f"seg{k}.mp4"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (now - age_h * 3600, now - age_h * 3600))
        files[k] = p
    part = tmp_path / "open.part.mp4"
    part.write_bytes(b"x" * 5000)
    os.utime(part, (now - 500 * 3600, now - 500 * 3600))
    removed = enforce_retention(tmp_path, max_age_s=72 * 3600, now=now)
    assert removed == [files[0]]
    removed = enforce_retention(tmp_path, max_bytes=2500, now=now)  # 4 kB finished → keep the newest 2
    assert removed == [files[1], files[2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["open.part.mp4", "seg3.mp4", "seg4.mp4"]
    assert enforce_retention(tmp_path, now=now) == []  # no limits: nothing goes
