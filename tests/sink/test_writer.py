"""ThreadedSink: order and completeness behind a slow writer, errors raised on the producer's thread, and the
run's outputs removed when it ends before its first frame."""

import json
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.cli import main
from edgeseg.errors import ConfigError
from edgeseg.pipeline.result import Result
from edgeseg.sink.outputs import OutputSpec, open_outputs
from edgeseg.sink.stats import StatsSink
from edgeseg.sink.writer import ThreadedSink
from edgeseg.source.frame import Frame


def _result(i, value=0):
    labels = np.full((24, 32), value, np.uint8)
    return Result(Frame(i, i / 25, "P", np.zeros((24, 32, 3), np.uint8)), labels, i % 5 == 0, 1.0)


class SlowStats(StatsSink):
    """A real stats file whose writes take a while (a slow disk)."""

    def write(self, result):
        time.sleep(0.002)
        super().write(result)


def test_slow_writer_keeps_every_frame_in_order(tmp_path):
    sink = ThreadedSink(SlowStats(tmp_path / "s.jsonl", classes=["a", "b"]), depth=2)
    for i in range(60):
        sink.write(_result(i, value=i % 2))
    assert sink.pending <= 2  # the producer waited instead of queueing without bound
    sink.close()
    lines = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(60))
    assert [x["class_fraction"]["b"] for x in lines[:3]] == [0.0, 1.0, 0.0]
    assert sink.written == 60


class FailsAt:
    def __init__(self, n):
        self.n, self.seen, self.closed = n, [], False

    def write(self, result):
        if result.frame.index == self.n:
            raise ConfigError("out.mp4: disk full")
        self.seen.append(result.frame.index)

    def close(self):
        self.closed = True


def test_a_writer_failure_reaches_the_producer_and_never_blocks_it():
    inner = FailsAt(3)
    sink = ThreadedSink(inner, depth=1)
    with pytest.raises(ConfigError, match="disk full"):
        for i in range(100):  # depth 1: a dead writer would block here for ever
            sink.write(_result(i))
    sink.close()
    assert inner.seen == [0, 1, 2] and inner.closed


def test_writes_run_on_another_thread(tmp_path):
    names = []

    class Where:
        def write(self, result):
            names.append(threading.current_thread().name)

        def close(self):
            pass

    sink = ThreadedSink(Where())
    sink.write(_result(0))
    sink.close()
    assert names and names[0] != threading.current_thread().name


def test_a_bad_output_leaves_no_empty_stats_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        open_outputs(OutputSpec(stats=tmp_path / "s.jsonl", masks=tmp_path / "m", overlay=blocker / "o.mp4"),
                     classes=["a"], palette=[(0, 0, 0)], fps=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_run_that_fails_before_its_first_frame_removes_its_outputs(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)  # looks like an MP4, holds no video
    res = CliRunner().invoke(main, ["run", str(bad), "--stats", str(tmp_path / "s.jsonl"),
                                    "--overlay", str(tmp_path / "o.mp4"), "--masks", str(tmp_path / "m")])
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]
