"""Labels made when an output reads them (Result): the same map as before, once, on any thread; and class
fractions from sampled labels within 0.5 points of every pixel's."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edgeseg.pipeline import SegmentSpec, segment_frames
from edgeseg.pipeline.result import Result
from edgeseg.sink.stats import class_fractions, result_fractions, sampled_hw, stats_step
from edgeseg.source.frame import Frame


@pytest.fixture(scope="module")
def wide_clip(tmp_path_factory):
    """A synthetic street clip at a camera's aspect (360×640), so sampled labels have boundaries to miss."""
    from edgeseg.synth.clip import render_clip

    return render_clip(tmp_path_factory.mktemp("wide") / "clip", frames=12, size=(360, 640), seed=4242,
                       preset="ultrafast")


def test_labels_are_made_once_whichever_threads_read_them():
    calls = []
    frame = Frame(0, 0.0, "I", np.zeros((9, 12, 3), np.uint8))

    def make(step):
        calls.append(step)
        return np.full(sampled_hw((9, 12), step), step, np.uint8)

    result = Result(frame, None, True, 1.0, make=make)
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(result.labels)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and all(s is seen[0] for s in seen) and seen[0].shape == (9, 12)
    assert result.labels_at(3).shape == (3, 4) and result.labels_at(3) is result.labels_at(3)
    assert calls == [1, 3]
    eager = Result(frame, np.arange(108, dtype=np.uint8).reshape(9, 12), True, 1.0)
    assert np.array_equal(eager.labels_at(3), eager.labels[1::3, 1::3])  # the middle of each 3×3 block
    with pytest.raises(ValueError):
        Result(frame, None, True, 1.0)


def test_stats_step_by_size():
    assert [stats_step(hw) for hw in ((360, 480), (540, 960), (720, 1280), (1080, 1920), (2160, 3840))] == \
        [1, 2, 3, 4, 8]


@pytest.mark.parametrize("guide", [True, False])
def test_sampled_labels_keep_class_fractions_within_half_a_point(reference, wide_clip, guide):
    nets, bundle = reference
    worst, agreement = 0.0, 1.0
    for result in segment_frames(str(wide_clip.video), SegmentSpec(guide=guide), nets=nets, bundle=bundle):
        full = class_fractions(result.labels, bundle.classes)
        for step in (2, 4):
            sampled = result.labels_at(step)
            assert sampled.shape == sampled_hw(result.labels.shape, step)
            fractions = class_fractions(sampled, bundle.classes)
            worst = max(worst, max(abs(full[c] - fractions[c]) for c in full))
            o = step // 2
            agreement = min(agreement, float((sampled == result.labels[o::step, o::step]).mean()))
    assert worst <= 0.005  # 0.5 points of the frame, for any class, any frame
    assert agreement >= 0.98  # sampled at the middle of each block, not exactly at its pixel


def test_stats_lines_use_the_sampled_labels(reference, wide_clip):
    nets, bundle = reference
    for result in segment_frames(str(wide_clip.video), SegmentSpec(), nets=nets, bundle=bundle):
        assert result_fractions(result, bundle.classes) == class_fractions(result.labels_at(2), bundle.classes)
