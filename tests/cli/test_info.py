import json
import subprocess
import sys

from click.testing import CliRunner

from edgeseg import __version__
from edgeseg.cli import main


def test_version():
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0
    assert __version__ in res.output


def test_console_script_entry_point():
    res = subprocess.run([sys.executable, "-m", "edgeseg", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and __version__ in res.stdout


def test_info_json_fields():
    res = CliRunner().invoke(main, ["info", "--json"])
    assert res.exit_code == 0, res.output
    env = json.loads(res.output)
    for key in ("edgeseg", "python", "cpu_count", "pyav", "onnxruntime", "tensorrt", "cupy", "gpu", "torch"):
        assert key in env
    assert env["cpu_count"] >= 1
    av = env["pyav"]
    assert av["installed"] and av["h264_decoder"] and av["libx264_encoder"]
    assert av["h264_motion_vectors"] is True  # PyAV's software h264 decoder exports vectors
    assert "CPUExecutionProvider" in env["onnxruntime"]["providers"]


def test_info_text():
    res = CliRunner().invoke(main, ["info"])
    assert res.exit_code == 0
    assert "onnxruntime" in res.output and "motion vectors: yes" in res.output


def test_unknown_subcommand_is_usage_error():
    res = CliRunner().invoke(main, ["frobnicate"])
    assert res.exit_code == 2
    assert "No such command" in res.output


def test_unknown_option_is_usage_error():
    res = CliRunner().invoke(main, ["info", "--bogus"])
    assert res.exit_code == 2
    assert "No such option" in res.output
