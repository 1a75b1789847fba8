"""What `edgeseg run` computes for a file, to compare `edgeseg batch` with (importable from tests).

Usage: ``labels = run_reference(path, spec, tmp_path / "run.jsonl"); assert_same_as_run(out_dir, labels, stats)``
(and ``kill_a_shard_writer(out, batch_thread)``: SIGKILL a worker mid-shard)
"""

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

from edgeseg.backend.networks import open_networks
from edgeseg.pipeline import build_segmenter, motion_pairs, open_for, run_stream
from edgeseg.sink import read_labels
from edgeseg.sink.stats import StatsSink


class _Collect:
    def __init__(self):
        self.labels = []

    def write(self, result):
        self.labels.append(result.labels.copy())

    def close(self):
        pass


def run_reference(path, spec, stats):
    """What `edgeseg run` computes (pipeline.session's wiring): label maps, and its stats file written."""
    nets, bundle = open_networks(None, backend="ort-cpu", threads=1)
    collect = _Collect()
    with open_for(spec, str(path)) as source:
        run_stream(motion_pairs(source, spec), build_segmenter(spec, nets=nets, bundle=bundle),
                   sinks=[StatsSink(stats, classes=bundle.classes), collect])
    return collect.labels


def _stats(path):
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:  # the wall-clock keys differ between runs
        line.pop("latency_ms")
        line.pop("time")
    return lines


def assert_same_as_run(out_dir, labels, stats):
    got = list(read_labels(out_dir / "labels.avi"))
    assert len(got) == len(labels)
    for k, (a, b) in enumerate(zip(got, labels, strict=True)):
        assert np.array_equal(a, b), f"frame {k} differs"
    assert _stats(out_dir / "stats.jsonl") == _stats(stats)


def shard_writer(directory: Path) -> tuple[int, str] | None:
    """(pid, file) of a process with a shard's temporary stats part open under `directory`, if one has."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            name = os.path.basename(target)
            if target.startswith(str(directory)) and name.startswith(".tmp-") and "-stats-" in name:
                return int(pid), target
    return None


def kill_a_shard_writer(out: Path, batch: threading.Thread) -> tuple[int, str] | None:
    """While `batch` runs, SIGKILL the first process seen writing a shard under `out`; (pid, file) or None."""
    while batch.is_alive():
        found = shard_writer(out)
        if found is not None:
            os.kill(found[0], signal.SIGKILL)
            return found
        time.sleep(0.01)
    return None
