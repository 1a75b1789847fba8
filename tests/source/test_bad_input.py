"""Every bad input: a one-line SourceError naming the input and the cause (library side; CLI in tests/cli)."""

import time

import clips
import pytest

from edgeseg.errors import SourceError
from edgeseg.source import open_source


def _bad_files(tmp_path):
    c = clips.translate_clip(tmp_path / "good.mp4", size=(96, 64), frames=4)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("these are not the frames you are looking for\n" * 50)
    (tmp_path / "cut.mp4").write_bytes(c.path.read_bytes()[: c.path.stat().st_size // 2])
    (tmp_path / "adir").mkdir()
    return {
        "missing": (tmp_path / "missing.mp4", "no such file"),
        "empty": (tmp_path / "empty.mp4", "file is empty"),
        "not a video": (tmp_path / "notes.mp4", "not a video"),
        "truncated": (tmp_path / "cut.mp4", "truncated or damaged video"),
        "directory": (tmp_path / "adir", "is a directory"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "not a video", "truncated", "directory"])
def test_bad_files(tmp_path, case):
    path, cause = _bad_files(tmp_path)[case]
    with pytest.raises(SourceError) as exc:
        open_source(str(path))
    msg = str(exc.value)
    assert msg.startswith(f"{path}: ") and cause in msg and "\n" not in msg


def test_unreachable_rtsp_fails_fast():
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"^rtsp://127\.0\.0\.1:9/live: cannot connect \(.+\)$"):
        open_source("rtsp://127.0.0.1:9/live", timeout=3)
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("spec", ["camera97", "/dev/video97"])
def test_missing_camera(spec):
    with pytest.raises(SourceError, match=r"^(camera97 \(/dev/video97\)|/dev/video97): no such camera device$"):
        open_source(spec)
