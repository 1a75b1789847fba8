"""Config validation: the shipped example, and one-line errors naming the key through the real CLI."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeseg.cli import main
from edgeseg.service.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "jetson" / "edgeseg.toml"


def test_shipped_example_is_valid_and_merges_defaults():
    cfg = load_config(EXAMPLE)
    assert list(cfg.cameras) == ["gate", "yard", "dock"]
    yard = cfg.cameras["yard"]
    assert (yard.spec.keyframe_interval, yard.audit_seconds, yard.spec.mode) == (5, 30, "interp")
    assert cfg.cameras["dock"].spec.mode == "prop" and cfg.cameras["gate"].spec.keyframe_interval == 10
    assert cfg.metrics.host == "127.0.0.1" and cfg.model.max_batch == 8
    assert yard.out == Path("/var/lib/edgeseg/yard")
    assert {c.spec.fusion for c in cfg.cameras.values()} == {"photometric"}
    assert yard.spec.correct == 0.25 and cfg.cameras["gate"].spec.correct is None  # a camera overrides one key


def test_camera_keys_are_the_segment_spec_one_to_one(tmp_path):
    """Every SegmentSpec field is a camera key of the same name, and reaches the camera's spec."""
    import dataclasses

    from edgeseg.pipeline import SegmentSpec

    values = {"mode": "prop", "keyframe_interval": 7, "keyframes": "adaptive", "keyframe_budget": 0.125,
              "max_keyframe_interval": 9, "iframe_keys": False, "fusion": "photometric", "space": "features",
              "warp_stride": 8, "propagation": "step", "motion_stride": 8, "fill_rounds": 2, "guide": False,
              "correct": 0.5, "correct_error": 12.0}
    assert set(values) == {f.name for f in dataclasses.fields(SegmentSpec)}
    cfg = tmp_path / "e.toml"
    lines = [f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in values.items()]
    cfg.write_text('[cameras.a]\nuri = "a.mp4"\n' + "\n".join(lines) + "\n")
    assert load_config(cfg).cameras["a"].spec == SegmentSpec(**values)


def test_check_lists_cameras_and_relative_paths_follow_the_file(tmp_path):
    cfg = tmp_path / "e.toml"
    cfg.write_text('[defaults]\noutput_dir = "out"\n[cameras.a]\nuri = "rtsp://h/s"\nkeyframe_interval = 4\n')
    res = CliRunner().invoke(main, ["serve", "--config", str(cfg), "--check"])
    assert res.exit_code == 0, res.output
    assert f"a: rtsp://h/s (mode interp, K=4) → {tmp_path / 'out' / 'a'}" in res.output
    assert "config OK: 1 cameras" in res.output


GOOD = '[cameras.a]\nuri = "a.mp4"\n'
BAD = [
    ("", r"cameras: at least one \[cameras.NAME\] table with a uri is required"),
    ("[cameras.a]\nmode = 'prop'\n", r"cameras.a.uri: missing \(a file, rtsp:// URL or cameraN\)"),
    ("[cameras.a]\nuri = ''\n", r"cameras.a.uri: must be a non-empty string \(got ''\)"),
    (GOOD + "keyframe_interval = 0\n", r"cameras.a.keyframe_interval: must be an integer from 1 to 1000 \(got 0\)"),
    (GOOD + "keyframe_interval = 'ten'\n", r"cameras.a.keyframe_interval: must be an integer from 1 to 1000 \(got 'ten'\)"),
    (GOOD + "mode = 'fast'\n", r"cameras.a.mode: must be one of frame, prop, interp, reuse \(got 'fast'\)"),
    (GOOD + "fusion = 'median'\n", r"cameras.a.fusion: must be one of linear, photometric \(got 'median'\)"),
    (GOOD + "colour = 1\n", r"cameras.a.colour: unknown key \(known: alpha, audit_seconds, .*\)"),
    (GOOD + "reconnect_min_s = 60\n",
     r"cameras.a.reconnect_min_s: reconnect_min_s \(60\) exceeds reconnect_max_s \(30\)"),
    ("[defaults]\noverlay = 'yes'\n" + GOOD, r"defaults.overlay: must be true or false \(got 'yes'\)"),
    ('[cameras."front door"]\nuri = "x"\n',
     r"cameras.front door: camera names use letters, digits, _ and - only \(1 to 64\)"),
    ("[model]\nbackend = 'tpu'\n" + GOOD, r"model.backend: must be one of auto, trt, ort-cuda, ort-cpu \(got 'tpu'\)"),
    ("[metrics]\nport = 70000\n" + GOOD, r"metrics.port: must be an integer from 0 to 65535 \(got 70000\)"),
    ("[camera.a]\nuri = 'x'\n", r"camera: unknown table \(known: cameras, defaults, metrics, model, mqtt, service\)"),
    ("[service]\nstop_timeout_s = 0\n" + GOOD, r"service.stop_timeout_s: must be a number in \(0, 3600\] \(got 0\)"),
    ("[cameras\nuri=", r"not valid TOML \(.*\)"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_config_is_one_line_naming_the_key(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    res = CliRunner().invoke(main, ["serve", "--config", str(cfg)])
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output
    assert re.fullmatch(rf"Error: {re.escape(str(cfg))}: {message}", lines[0]), lines[0]


def test_missing_and_unreadable_config(tmp_path):
    res = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "none.toml")])
    assert res.exit_code == 1 and res.output.strip() == f"Error: {tmp_path / 'none.toml'}: no such config file"
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    res = CliRunner().invoke(main, ["serve", "--config", str(binary)])
    assert res.exit_code == 1 and res.output.startswith(f"Error: {binary}: cannot read the config (")


def test_start_errors_are_one_line(tmp_path, bundle_dir):
    import socket

    cfg = tmp_path / "e.toml"
    cfg.write_text(f'[model]\nbundle = "{tmp_path / "nobundle"}"\nbackend = "ort-cpu"\n'
                   '[metrics]\nenabled = false\n' + GOOD)
    res = CliRunner().invoke(main, ["serve", "--config", str(cfg)])
    assert res.exit_code == 1 and "Traceback" not in res.output  # log lines may precede the error line
    assert res.output.strip().splitlines()[-1] == f"Error: {tmp_path / 'nobundle'}: no such bundle directory"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        cfg.write_text(f'[model]\nbundle = "{bundle_dir}"\nbackend = "ort-cpu"\n[metrics]\nport = {port}\n' + GOOD)
        res = CliRunner().invoke(main, ["serve", "--config", str(cfg)])
    assert res.exit_code == 1  # the port is taken before the model loads: nothing else was logged
    assert res.output.strip() == f"Error: metrics: cannot listen on 127.0.0.1:{port} (Address already in use)"


def test_every_camera_key_is_documented_in_the_example_and_the_guide():
    import dataclasses

    from edgeseg.service.config import CameraConfig

    guide = (EXAMPLE.parents[1] / "docs" / "SERVICE.md").read_text()
    example = EXAMPLE.read_text()
    keys = [f.name for f in dataclasses.fields(CameraConfig) if f.name not in ("name", "spec")]
    assert [k for k in keys if f"`{k}`" not in guide] == []
    assert [k for k in keys if f"\n{k} =" not in example and f"\n# {k} =" not in example] == []
