"""The lossless label video in both formats: every map back exactly, pieces joined by packet copy."""

import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.sink.labels import LabelVideoSink, concat_videos, read_labels


class _R:
    def __init__(self, labels):
        self.labels = labels


def _street_like(rng, h=37, w=53):
    """Flat regions with ragged borders, like label maps (JPEG-LS's run mode) plus noise-like ones."""
    base = np.repeat(np.arange(h, dtype=np.uint8)[:, None] // 9, w, axis=1)
    base[rng.random((h, w)) < 0.05] = rng.integers(0, 19)
    return base


@pytest.mark.parametrize("suffix", [".avi", ".mkv"])
def test_label_video_round_trips_and_joins(tmp_path, suffix):
    rng = np.random.default_rng(0)
    maps = [rng.integers(0, 256, (37, 53), dtype=np.uint8) for _ in range(3)] + \
        [_street_like(rng) for _ in range(4)]
    for name, part in (("a", maps[:3]), ("b", maps[3:])):
        sink = LabelVideoSink(tmp_path / f"{name}{suffix}", fps=29.97)
        for m in part:
            sink.write(_R(m))
        sink.close()
    joined = tmp_path / f"all{suffix}"
    concat_videos([tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"], joined, frames=[3, 4], fps=29.97)
    for path, want in ((tmp_path / f"a{suffix}", maps[:3]), (joined, maps)):
        got = list(read_labels(path))
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_the_codec_follows_the_name(tmp_path):
    assert (LabelVideoSink(tmp_path / "l.avi", fps=25).codec, LabelVideoSink(tmp_path / "l.mkv", fps=25).codec) \
        == ("jpegls", "ffv1")
    with pytest.raises(ConfigError, match=r"l\.mp4: a label video is \.avi"):
        LabelVideoSink(tmp_path / "l.mp4", fps=25)
