"""open_source on real files of every container, webcam formats, damaged streams."""

import logging

import av
import clips
import numpy as np
import pytest

from edgeseg.errors import SourceError
from edgeseg.motion.dense import MotionFieldBuilder
from edgeseg.source import Source, open_source
from edgeseg.source.camera import camera_device


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.translate_clip(tmp_path_factory.mktemp("s") / "c.mp4", size=(160, 96), frames=8, bframes=2)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov", ".avi", ".h264", ".264"])
def test_containers(tmp_path, suffix):
    c = clips.translate_clip(tmp_path / f"c{suffix}", size=(160, 96), frames=8, bframes=2, fps=30)
    with open_source(str(c.path)) as src:
        assert isinstance(src, Source)
        frames = list(src)
        info, stats = src.info, src.stats
    assert (info.width, info.height, info.codec, info.exports_mvs, info.is_live) == (160, 96, "h264", True, False)
    assert info.fps == pytest.approx(25 if suffix in (".h264", ".264") else 30)  # raw H.264: no timing → 25
    assert [f.index for f in frames] == list(range(8))
    assert stats.frames == 8 and stats.corrupt == 0
    assert stats.types["I"] == 1 and stats.types["B"] > 0 and sum(stats.types.values()) == 8
    pts = [f.pts for f in frames]
    assert pts[0] == pytest.approx(0, abs=0.1) and all(b > a for a, b in zip(pts, pts[1:], strict=False))  # seconds
    assert pts[-1] - pts[0] == pytest.approx(7 / info.fps, abs=0.01)
    assert frames[0].image.shape == (96, 160, 3) and frames[0].image.dtype == np.uint8
    assert np.abs(frames[3].image.astype(int) - c.images[3]).mean() < 6  # the right frame, display order


def test_odd_size_clip(tmp_path):
    c = clips.translate_clip(tmp_path / "odd.mp4", size=(642, 362), frames=3)
    with open_source(c.path) as src:
        assert (src.info.width, src.info.height) == (642, 362)
        assert next(iter(src)).image.shape == (362, 642, 3)


@pytest.mark.parametrize(("codec", "pix_fmt", "suffix"), [("rawvideo", "yuyv422", ".avi"), ("mjpeg", "yuvj422p", ".avi")])
def test_webcam_formats_have_no_vectors_and_get_estimated_motion(tmp_path, codec, pix_fmt, suffix):
    c = clips.translate_clip(tmp_path / "src.mp4", size=(320, 192), frames=6, shift_xy=(1.5, -0.75), crf=5)
    path = clips.encode_with(tmp_path / f"cam{suffix}", c.images, codec=codec, pix_fmt=pix_fmt)
    with open_source(path) as src:
        assert src.info.codec == codec and not src.info.exports_mvs
        pairs = list(MotionFieldBuilder().fields(src))
    assert all(f.mvs is None for f, _ in pairs)
    err, valid = clips.field_error(c, pairs)
    assert err < 0.4 and valid > 0.9


def test_corrupted_middle_loses_only_damaged_frames(tmp_path, caplog):
    c = clips.translate_clip(tmp_path / "c.h264", size=(320, 192), frames=30, bframes=0, gop=10, crf=10)
    data = bytearray(c.path.read_bytes())
    starts = [i for i in range(len(data) - 4) if data[i:i + 4] == b"\x00\x00\x00\x01"]
    nal = [s for s in starts if data[s + 4] & 0x1F == 1][14]  # a P slice in the middle of the clip (frame 16)
    rng = np.random.default_rng(0)
    data[nal + 40: nal + 240] = rng.integers(1, 255, 200, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.h264"
    bad.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="edgeseg.source"), open_source(bad) as src:
        pairs = list(MotionFieldBuilder().fields(src))
        stats = src.stats
    assert stats.corrupt >= 1 and any("bad.h264" in r.message and "skipped" in r.message for r in caplog.records)
    assert stats.frames + stats.corrupt == 30 and stats.frames < 30
    assert pairs[-1][0].index == 29  # the rest of the stream is processed
    lost = sorted(set(range(30)) - {f.index for f, _ in pairs})
    assert lost == [16]
    after = {f.index: fld for f, fld in pairs}
    assert after[17].valid_fraction == 0  # no motion across the lost frame
    assert all(after[i].valid_fraction > 0.5 for i in range(21, 30))


def test_truncated_indexed_mp4_processes_what_is_there_then_fails(tmp_path):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(160, 96), frames=16, crf=30)
    data = clips.remux(clip.path, tmp_path / "fast.mp4", movflags="faststart").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    got = []
    with pytest.raises(SourceError, match=r"^.*cut.mp4: truncated video \(file ends after \d+ of 16 frames\)$"):
        with open_source(cut) as src:
            got.extend(src)
    assert 0 < len(got) < 16


def test_camera_names():
    assert camera_device("camera0") == "/dev/video0" and camera_device("/dev/video12") == "/dev/video12"
    assert camera_device("camera") is None and camera_device("clip.mp4") is None


def test_demo_hook_without_demo_module_is_a_clean_error():
    try:
        import edgeseg.source.demo  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(SourceError, match="^demo: "):
            open_source("demo")
    else:
        with open_source("demo") as src:
            assert src.info.width > 0


def test_closed_source_refuses_iteration(clip):
    src = open_source(clip.path)
    src.close()
    src.close()
    with pytest.raises(SourceError, match="closed"):
        iter(src)


def test_hevc_exports_no_vectors_and_gets_estimated_motion(tmp_path):
    if "libx265" not in av.codecs_available:
        pytest.skip("no libx265 encoder in this PyAV build")
    c = clips.translate_clip(tmp_path / "src.mp4", size=(320, 192), frames=6, shift_xy=(1.5, -0.75), crf=5)
    path = clips.encode_with(tmp_path / "hevc.mp4", c.images, codec="libx265",
                             options={"x265-params": "log-level=none", "crf": "12"})
    with open_source(path) as src:
        assert src.info.codec == "hevc" and not src.info.exports_mvs
        pairs = list(MotionFieldBuilder().fields(src))
    assert len(pairs) == 6 and all(f.mvs is None for f, _ in pairs)
    err, valid = clips.field_error(c, pairs)
    assert err < 0.4 and valid > 0.9


@pytest.mark.parametrize(("suffix", "refs"), [(".mp4", 1), (".mp4", 3), (".h264", 2)])
def test_sps_reference_count(tmp_path, suffix, refs):
    c = clips.translate_clip(tmp_path / f"r{suffix}", size=(64, 48), frames=3, refs=refs)
    with open_source(c.path) as src:
        assert src.info.max_refs == refs
        assert next(iter(src)).meta["max_refs"] == refs


def test_rgb_converter_matches_pyav_at_alternating_sizes(clip):
    from edgeseg.source.decode import RgbConverter

    rgb = RgbConverter()
    with av.open(str(clip.path)) as container:
        for vf in container.decode(video=0):  # sizes alternate: each request gets its size
            np.testing.assert_array_equal(rgb(vf), vf.to_ndarray(format="rgb24"))
            scaled = vf.reformat(width=80, height=48, format="rgb24", interpolation="BILINEAR").to_ndarray()
            np.testing.assert_array_equal(rgb(vf, 48, 80), scaled)
    with open_source(str(clip.path)) as src:  # the frames a Source yields convert through it
        frame = next(iter(src))
        assert frame.image.shape == (96, 160, 3) and frame.resized(48, 80).shape == (48, 80, 3)
