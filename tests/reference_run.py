"""What `edgeseg run` computes for a file, to compare `edgeseg batch` with (importable from tests).

Usage: ``labels = run_reference(path, spec, tmp_path / "run.jsonl"); assert_same_as_run(out_dir, labels, stats)``
"""

import json

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
    for line in lines:
        line.pop("latency_ms")
    return lines


def assert_same_as_run(out_dir, labels, stats):
    got = list(read_labels(out_dir / "labels.mkv"))
    assert len(got) == len(labels)
    for k, (a, b) in enumerate(zip(got, labels, strict=True)):
        assert np.array_equal(a, b), f"frame {k} differs"
    assert _stats(out_dir / "stats.jsonl") == _stats(stats)
