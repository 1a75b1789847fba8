"""GOP-parallel decoding gives exactly the frames of one single-threaded decoder, or falls back to it."""

import logging
import threading

import av
import clips
import numpy as np
import pytest

from edgeseg.motion.dense import MotionFieldBuilder
from edgeseg.source import open_source
from edgeseg.source.gop import idr_test


def _decode(path, workers, *, buffer_mb=256.0, fields=False):
    """(frames as comparable tuples, fields or None, stats summary, GOP count)."""
    with open_source(path) as src:
        src.workers, src.buffer_mb = workers, buffer_mb
        pairs = list(MotionFieldBuilder(stride=16, fallback=None).fields(src)) if fields else [(f, None) for f in src]
        frames = [(f.index, f.pts, f.pict_type, f.mvs, f.image) for f, _ in pairs]
        return frames, [fld for _, fld in pairs], src.stats.summary(), src.gops


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3]  # index, pts, picture type
        assert np.array_equal(x[3], y[3])  # vectors, in FFmpeg's order
        assert np.array_equal(x[4], y[4])  # pixels


def _idr_count(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        is_idr = idr_test(s.codec_context.extradata)
        return sum(is_idr(p) for p in c.demux(s) if p.size)


@pytest.mark.parametrize(("suffix", "bframes", "refs"), [(".mp4", 3, 4), (".mp4", 0, 1), (".mkv", 2, 2)])
def test_parallel_gops_match_one_decoder(tmp_path, suffix, bframes, refs):
    c = clips.translate_clip(tmp_path / f"g{suffix}", size=(160, 96), frames=30, bframes=bframes, refs=refs, gop=8)
    one, f1, s1, g1 = _decode(c.path, 1, fields=True)
    many, f2, s2, g2 = _decode(c.path, 3, buffer_mb=0.0, fields=True)  # smallest queues: workers wait a lot
    assert g1 == 0 and g2 == _idr_count(c.path) == 4  # split at every IDR, and decoded in parallel
    _assert_same(one, many)
    assert [f[0] for f in many] == list(range(30)) and s1 == s2
    for a, b in zip(f1, f2, strict=True):
        assert np.array_equal(a.dx, b.dx) and np.array_equal(a.valid, b.valid)
    if bframes:
        assert "B" in {f[2] for f in many}


def test_open_gop_is_one_gop_and_exact(tmp_path):
    # x264 open GOP: keyframes are recovery-point I-frames whose leading B-frames predict from the previous GOP
    c = clips.translate_clip(tmp_path / "open.mp4", size=(160, 96), frames=30, bframes=3, refs=2, gop=8,
                             options={"x264-params": "open-gop=1"})
    one, _, s1, _ = _decode(c.path, 1)
    many, _, s2, gops = _decode(c.path, 2)
    assert sum(f[2] == "I" for f in one) >= 3 and _idr_count(c.path) == 1
    assert gops == 1  # not split at the recovery-point I-frames: one decoder, sequential
    _assert_same(one, many)
    assert s1 == s2


def test_damaged_gop_loses_only_damaged_frames_as_one_decoder_does(tmp_path, caplog):
    c = clips.translate_clip(tmp_path / "c.mp4", size=(320, 192), frames=30, bframes=0, gop=10, crf=10)
    with av.open(str(c.path)) as inp:
        packets = [(p.pos, p.size) for p in inp.demux(inp.streams.video[0]) if p.size]
    pos, size = packets[16]  # a P-frame in the middle of the second GOP (no B-frames: decode = display order)
    assert size > 240
    data = bytearray(c.path.read_bytes())
    data[pos + 40: pos + 240] = np.random.default_rng(0).integers(1, 255, 200, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    one, _, s1, _ = _decode(bad, 1)
    with caplog.at_level(logging.WARNING, logger="edgeseg.source"):
        many, _, s2, gops = _decode(bad, 2)
    assert gops == 3
    _assert_same(one, many)  # same frames lost, same (inherited) damage in the GOP, same indices
    assert s1 == s2
    lost = sorted(set(range(30)) - {f[0] for f in many})
    assert 16 in lost and all(i in {f[0] for f in many} for i in range(20, 30))  # the next GOPs are whole
    assert any("bad.mp4" in r.message and "skipped" in r.message for r in caplog.records)


def test_annex_b_and_live_like_inputs_stay_on_one_decoder(tmp_path):
    c = clips.translate_clip(tmp_path / "raw.h264", size=(160, 96), frames=12, bframes=2, gop=4)
    one, _, _, g1 = _decode(c.path, 1)
    many, _, _, g2 = _decode(c.path, 2)
    assert g1 == g2 == 0  # no avcC length prefixes: GOPs are not told apart
    _assert_same(one, many)


def test_close_mid_stream_stops_every_decoder_thread(tmp_path):
    c = clips.translate_clip(tmp_path / "g.mp4", size=(160, 96), frames=40, bframes=2, gop=5)
    src = open_source(c.path)
    src.workers, src.buffer_mb = 2, 0.0
    it = iter(src)
    got = [next(it) for _ in range(7)]
    assert [f.index for f in got] == list(range(7))
    mine = [t for t in threading.enumerate() if t.name.endswith(f":{c.path}")]
    assert len(mine) == 3  # the demuxer and two decoders
    src.close()
    assert not any(t.is_alive() for t in mine)
