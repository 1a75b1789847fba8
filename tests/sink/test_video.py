"""VideoWriter: real libx264 encoding, read back with PyAV."""

import av
import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.sink.video import VideoWriter


def _decode(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize("name", ["clip.mp4", "clip.mkv", "clip.h264"])
def test_roundtrip_keeps_frames_and_content(tmp_path, name):
    frames = [np.full((64, 96, 3), 40 * i, np.uint8) for i in range(6)]
    with VideoWriter(tmp_path / name, fps=25, width=96, height=64, crf=10, preset="ultrafast") as w:
        for f in frames:
            w.write(f)
    out = _decode(tmp_path / name)
    assert len(out) == 6 and out[0].shape == (64, 96, 3)
    for got, want in zip(out, frames, strict=True):
        assert np.abs(got.astype(int) - want).mean() < 3


def test_odd_size_is_padded_by_edge_replication(tmp_path):
    img = np.zeros((361, 641, 3), np.uint8)
    img[:, :320] = 200
    with VideoWriter(tmp_path / "odd.mp4", fps=30, width=641, height=361, crf=12, preset="ultrafast") as w:
        assert w.encoded_size == (642, 362)
        w.write(img)
    (out,) = _decode(tmp_path / "odd.mp4")
    assert out.shape == (362, 642, 3)
    assert np.abs(out[:361, :641].astype(int) - img).mean() < 3


def test_gop_and_bframes_reach_the_encoder(tmp_path):
    rng = np.random.default_rng(0)
    with VideoWriter(tmp_path / "g.mp4", fps=25, width=64, height=64, bframes=0, gop=5, preset="ultrafast") as w:
        for _ in range(12):
            w.write(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    with av.open(str(tmp_path / "g.mp4")) as c:
        types = [int(f.pict_type) for f in c.decode(video=0)]
    assert 3 not in types  # no B-frames
    assert [i for i, t in enumerate(types) if t == 1][:3] == [0, 5, 10]


def test_wrong_frame_shape_is_a_one_line_error(tmp_path):
    with VideoWriter(tmp_path / "x.mp4", fps=25, width=64, height=64) as w:
        with pytest.raises(ConfigError, match=r"x.mp4: frame \(32, 64, 3\)"):
            w.write(np.zeros((32, 64, 3), np.uint8))
