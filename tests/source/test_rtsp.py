"""RTSP over TCP against real RTSP servers (the repository's minimal in-process one, and GStreamer's):
frames, vectors, timeouts."""

import time

import clips
import pytest
from rtsp_server import RtspServer

from edgeseg.errors import SourceError
from edgeseg.motion.dense import MotionFieldBuilder
from edgeseg.source import open_source


def test_rtsp_stream_gives_frames_vectors_and_fields(tmp_path):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(320, 192), frames=30, bframes=2, gop=10, fps=25)
    with RtspServer(clip.path, fps=100) as url, open_source(url, timeout=5) as src:
        assert src.info.is_live and src.info.codec == "h264" and src.info.exports_mvs
        pairs = list(MotionFieldBuilder().fields(src))
        stats = src.stats
    assert [f.index for f, _ in pairs] == list(range(30)) and stats.corrupt == 0
    assert stats.types["B"] > 0
    pts = [f.pts for f, _ in pairs][1:]  # RTP time counts from the first packet received (decode order)
    assert pts == sorted(pts) and pts[-1] - pts[0] == pytest.approx(28 / 25, abs=0.01)
    err, valid = clips.field_error(clip, pairs)
    assert err < 0.25 and valid > 0.9


def test_rtsp_server_that_never_answers_times_out():
    with RtspServer.silent() as url:
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"^rtsp://127\.0\.0\.1:\d+/clip: no answer within 1\.5 s \(timed out\)$"):
            open_source(url, timeout=1.5)
        assert time.monotonic() - t0 < 5


def test_gstreamer_rtsp_server_gives_frames_vectors_and_fields(tmp_path):
    """GStreamer's own RTSP server (Debian packages), as a deployment's cameras or relays would serve."""
    import gst_rtsp_server

    if not gst_rtsp_server.available():
        pytest.skip("GStreamer's RTSP server is not installed (gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gi)")
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(320, 192), frames=30, bframes=2, gop=10, fps=25)
    with gst_rtsp_server.GstRtspServer(clip.path) as url, open_source(url, timeout=5) as src:
        assert src.info.is_live and src.info.codec == "h264" and src.info.exports_mvs
        pairs = list(MotionFieldBuilder().fields(src))
        stats = src.stats
    assert [f.index for f, _ in pairs] == list(range(30)) and stats.corrupt == 0
    assert stats.types["B"] > 0 and stats.types["I"] > 0
    err, valid = clips.field_error(clip, pairs)
    assert err < 0.25 and valid > 0.9
