"""`edgeseg motion`: the mv-extractor dump layout, summary line, and one-line errors for every bad input."""

import re
import subprocess
import sys

import av
import clips
import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.cli import main
from edgeseg.source import open_source


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.translate_clip(tmp_path_factory.mktemp("m") / "c.mp4", size=(160, 96), frames=9, bframes=2)


def test_dump_layout_matches_the_decoded_vectors(tmp_path, clip):
    out = tmp_path / "dump"
    res = CliRunner().invoke(main, ["motion", str(clip.path), "--dump", str(out)])
    assert res.exit_code == 0, res.output
    types = (out / "frame_types.txt").read_text().split("\n")
    assert types[-1] == "" and len(types) == 10 and set(types[:-1]) <= {"I", "P", "B"}
    with open_source(clip.path) as src:
        frames = list(src)
    assert types[:-1] == [f.pict_type for f in frames]
    for i, f in enumerate(frames):
        got = np.load(out / "motion_vectors" / f"mvs-{i}.npy")
        assert got.dtype == np.int32 and got.shape[1] == 10
        assert np.array_equal(got, f.mvs)
    assert np.load(out / "motion_vectors" / "mvs-0.npy").shape == (0, 10)
    assert not (out / "frames").exists()
    line = res.output.strip()
    assert "\n" not in line
    assert re.fullmatch(r".*c\.mp4: 9 frames \(I 1, P \d+, B \d+\), 0 corrupt, \d+\.\d\d s → .*dump", line)


def test_max_frames_and_jpeg_frames(tmp_path, clip):
    out = tmp_path / "d"
    res = CliRunner().invoke(main, ["motion", str(clip.path), "--dump", str(out), "--max-frames", "4", "--frames"])
    assert res.exit_code == 0, res.output
    assert len((out / "frame_types.txt").read_text().split()) == 4
    assert sorted(p.name for p in (out / "motion_vectors").iterdir()) == [f"mvs-{i}.npy" for i in range(4)]
    jpgs = sorted((out / "frames").iterdir())
    assert [p.name for p in jpgs] == [f"frame-{i}.jpg" for i in range(4)]
    with av.open(str(out / "frames" / "frame-2.jpg")) as c:
        img = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert img.shape == (96, 160, 3) and np.abs(img.astype(int) - clip.images[2]).mean() < 8


def test_codec_without_vectors_warns_and_writes_empty_arrays(tmp_path, clip):
    path = clips.encode_with(tmp_path / "cam.avi", clip.images[:3], codec="mjpeg", pix_fmt="yuvj422p")
    res = CliRunner().invoke(main, ["motion", str(path), "--dump", str(tmp_path / "d")])
    assert res.exit_code == 0
    assert "exports no motion vectors" in res.output
    assert all(np.load(tmp_path / "d" / "motion_vectors" / f"mvs-{i}.npy").shape == (0, 10) for i in range(3))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "edgeseg", "motion", *args], capture_output=True, text=True,
                          timeout=60)


def test_bad_inputs_one_line_no_traceback(tmp_path, clip):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mkv").write_text("not a video at all\n" * 20)
    (tmp_path / "cut.mp4").write_bytes(clip.path.read_bytes()[:1500])
    cases = [
        (str(tmp_path / "missing.mp4"), "no such file"),
        (str(tmp_path / "empty.mp4"), "file is empty"),
        (str(tmp_path / "notes.mkv"), "not a video"),
        (str(tmp_path / "cut.mp4"), "truncated or damaged video"),
        ("rtsp://127.0.0.1:9/stream", "cannot connect"),
        ("camera97", "no such camera device"),
    ]
    for spec, cause in cases:
        res = _run(spec, "--dump", str(tmp_path / "out"), "--timeout", "3")
        assert res.returncode == 1, (spec, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
        assert lines[0].startswith(f"Error: {spec}") and cause in lines[0], lines[0]


def test_corrupted_middle_is_counted_and_the_run_succeeds(tmp_path):
    c = clips.translate_clip(tmp_path / "c.h264", size=(160, 96), frames=20, gop=10, crf=10)
    data = bytearray(c.path.read_bytes())
    starts = [i for i in range(len(data) - 4) if data[i:i + 4] == b"\x00\x00\x00\x01"]
    nal = [s for s in starts if data[s + 4] & 0x1F == 1][6]
    data[nal + 30: nal + 130] = bytes(range(1, 101))
    bad = tmp_path / "bad.h264"
    bad.write_bytes(bytes(data))
    res = _run(str(bad), "--dump", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert re.search(r": 19 frames \(I 2, P 17, B 0\), 1 corrupt", res.stdout)
    assert "damaged (skipped)" in res.stderr


def _faststart(tmp_path, clip):
    """The clip with its index first (an MP4 readable up to a cut), and the offset where its frame data starts."""
    data = clips.remux(clip.path, tmp_path / "fast.mp4", movflags="faststart").read_bytes()
    i = 0
    while data[i + 4:i + 8] != b"mdat":
        i += int.from_bytes(data[i:i + 4], "big")
    return data, i + 8


def test_truncated_file_keeps_the_frames_decoded_and_succeeds_with_a_note(tmp_path):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(96, 64), frames=40, gop=10)
    data, _ = _faststart(tmp_path, clip)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    res = _run(str(cut), "--dump", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "Error" not in res.stderr
    found = re.fullmatch(rf"{re.escape(str(cut))}: (\d+) frames \(I \d+, P \d+, B 0\), \d+ corrupt, \d+\.\d\d s → "
                         rf"{re.escape(str(tmp_path / 'out'))} \(source ended early: {re.escape(str(cut))}: truncated "
                         r"video \(file ends after \d+ of 40 frames\)\)", res.stdout.strip())
    assert found, res.stdout
    n = int(found[1])
    assert 0 < n < 40
    assert sorted((tmp_path / "out" / "motion_vectors").iterdir()) == sorted(
        tmp_path / "out" / "motion_vectors" / f"mvs-{i}.npy" for i in range(n))
    assert len((tmp_path / "out" / "frame_types.txt").read_text().split()) == n
    res = _run(str(cut))  # without --dump: the frames are counted, the summary says where the file ended
    assert res.returncode == 0 and f": {n} frames (" in res.stdout and "(source ended early: " in res.stdout


def test_a_source_without_a_frame_leaves_no_dump(tmp_path):
    clip = clips.translate_clip(tmp_path / "c.mp4", size=(96, 64), frames=12)
    data, frames_start = _faststart(tmp_path, clip)
    (tmp_path / "header-only.mp4").write_bytes(data[:frames_start])  # opens, then ends before its first frame
    (tmp_path / "notes.mkv").write_text("not a video at all\n" * 20)
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "mine.txt").write_text("kept")
    for name in ("header-only.mp4", "notes.mkv"):
        for out in ("new", "existing"):
            before = sorted(tmp_path.rglob("*"))
            res = _run(str(tmp_path / name), "--dump", str(tmp_path / out), "--frames")
            assert res.returncode == 1, res.stderr
            lines = res.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / name}: "), lines
            assert sorted(tmp_path.rglob("*")) == before, (name, out)  # nothing created, nothing removed
    assert "truncated video (file ends after 0 of 12 frames)" in _run(str(tmp_path / "header-only.mp4")).stderr


def test_dump_directory_goes_into_an_existing_one(tmp_path, clip):
    res = _run(str(clip.path), "--dump", str(tmp_path / "no" / "such"))
    assert res.returncode == 1
    assert res.stderr.strip() == f"Error: --dump {tmp_path / 'no' / 'such'}: directory {tmp_path / 'no'} does not exist"
    assert not (tmp_path / "no").exists()
