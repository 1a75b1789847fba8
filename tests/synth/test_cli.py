"""`edgeseg synth`: output layout and summary line; one-line errors (exit 1) for every bad input."""

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from edgeseg.cli import main


def test_writes_video_and_labels(tmp_path):
    out = tmp_path / "clip"
    res = CliRunner().invoke(main, ["synth", str(out), "--frames", "6", "--size", "64x80", "--seed", "3",
                                    "--bframes", "2", "--crf", "26", "--cuts", "3", "--speed-changes", "2:20"])
    assert res.exit_code == 0, res.output
    assert re.fullmatch(r".*video\.mp4: 6 frames 64x80 seed 3, labels in .*labels, \d+\.\d s", res.output.strip())
    assert sorted(p.name for p in (out / "labels").iterdir()) == [f"frame-{i:06d}.png" for i in range(6)]
    from edgeseg.sink.png import read_png
    from edgeseg.source import open_source

    assert read_png(out / "labels" / "frame-000005.png").shape == (64, 80)
    with open_source(str(out / "video.mp4")) as src:
        frames = list(src)
    assert len(frames) == 6 and frames[0].image.shape == (64, 80, 3)


@pytest.mark.parametrize("args, message", [
    (["--size", "360by480"], "Error: --size '360by480': expected HxW, e.g. 360x480"),
    (["--size", "8x8"], "Error: size 8x8: height and width must be within 16..4096"),
    (["--frames", "5", "--cuts", "7"], "Error: cuts [7]: every cut must be a frame within 1..4"),
    (["--cuts", "a,b"], "Error: --cuts 'a,b': expected comma-separated frame numbers, e.g. 100,200"),
    (["--speed-changes", "10"], "Error: --speed-changes '10': expected FRAME:SPEED pairs, e.g. 100:2,200:15"),
    (["--preset", "ludicrous"], "Error: preset 'ludicrous': not a libx264 preset"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    res = CliRunner().invoke(main, ["synth", str(tmp_path / "o"), *args])
    assert res.exit_code == 1
    assert res.output.strip().startswith(message) and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "video.mp4").exists()


@pytest.mark.parametrize("args", [["--frames", "0"], ["--speed", "99"], ["--crf", "70"], ["--gop", "0"],
                                  ["--fps", "0"], ["--traffic", "-1"]])
def test_out_of_range_options_are_usage_errors(tmp_path, args):
    res = CliRunner().invoke(main, ["synth", str(tmp_path / "o"), *args])
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1].startswith(f"Error: Invalid value for '{args[0]}'")
    assert not (tmp_path / "o").exists()


def test_output_path_is_a_file_no_traceback(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "edgeseg", "synth", str(target / "sub"), "--frames", "2",
                           "--size", "32x32"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"Error: OUT_DIR {target / 'sub'}: directory {target} is not a directory"
