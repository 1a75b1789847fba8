"""Every numeric CLI option and every numeric service key has a range that rejects absurd values in one line
(edgeseg/limits.py). The walk covers every command and key, so a new one cannot miss its range."""

from __future__ import annotations

import dataclasses
import typing

import click
import pytest
from click.testing import CliRunner

from edgeseg.cli import main
from edgeseg.errors import ConfigError
from edgeseg.limits import MOTION_STRIDES, SPEC, Range
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.service import config as service_config


def _commands():
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        yield name, main.get_command(ctx, name)


def _numeric(param) -> bool:
    return isinstance(param.type, click.types.IntParamType | click.types.FloatParamType)


def test_every_numeric_option_of_every_command_is_bounded_on_both_sides():
    unbounded, seen = [], 0
    for name, command in _commands():
        for param in command.params:
            if _numeric(param):
                seen += 1
                if not isinstance(param.type, click.types._NumberRangeBase) or None in (param.type.min,
                                                                                         param.type.max):
                    unbounded.append(f"{name} {param.opts[0]}")
    assert seen >= 25  # the walk found the options (run, bench, batch, synth, motion, export, verify, ...)
    assert unbounded == []


@pytest.mark.parametrize("value", ["100000000000", "-1"])
def test_absurd_values_are_one_usage_error_before_any_work(value, tmp_path):
    """Each bounded option given an absurd value exits 2 with one Error line (no file needed to exist)."""
    for name, command in _commands():
        for param in command.params:
            if not _numeric(param) or (value == "-1" and param.type.min is not None and param.type.min < -1):
                continue
            args = [name, *(["x"] * sum(isinstance(p, click.Argument) for p in command.params)),
                    param.opts[0], value]
            res = CliRunner().invoke(main, args)
            errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
            assert res.exit_code == 2 and len(errors) == 1 and param.opts[0] in errors[0], (args, res.output)
            assert "Traceback" not in res.output


def _numeric_fields(cls) -> list[str]:
    hints = typing.get_type_hints(cls)
    return [f.name for f in dataclasses.fields(cls)
            if {int, float} & set(typing.get_args(hints[f.name]) or (hints[f.name],))]


GOOD = '[cameras.a]\nuri = "a.mp4"\n'
TABLES = {"model": service_config.ModelConfig, "cameras.a": service_config.CameraConfig,
          "metrics": service_config.MetricsConfig, "service": service_config.ServiceOptions,
          "mqtt": service_config.MqttConfig}


def _keys():
    for table, cls in TABLES.items():
        for key in _numeric_fields(cls):
            yield table, key
    for key in _numeric_fields(SegmentSpec):
        yield "cameras.a", key


def test_every_numeric_service_key_is_walked():
    keys = {k for _, k in _keys()}
    assert {"threads", "max_batch", "port", "segment_seconds", "timeout_s", "keyframe_interval",
            "motion_stride", "correct_error", "stall_seconds", "rate_hz", "queue_size", "preview_fps"} <= keys


@pytest.mark.parametrize(("table", "key"), list(_keys()))
@pytest.mark.parametrize("value", [10**12, -(10**12)])
def test_absurd_service_values_are_one_line_naming_the_key(table, key, value):
    doc = {"cameras": {"a": {"uri": "a.mp4"}}}
    if table == "cameras.a":
        doc["cameras"]["a"][key] = value
    else:
        doc[table] = {key: value}
    with pytest.raises(ConfigError) as err:
        service_config.parse_config(doc, path="edgeseg.toml")
    message = str(err.value)
    assert f"{table}.{key}: must be" in message and "\n" not in message


def test_spec_ranges_are_enforced_by_the_spec_itself():
    for name, limit in SPEC.items():
        with pytest.raises(ConfigError, match=name):
            SegmentSpec(**{name: limit.hi * 1000 + 1})
    for stride in (3, 24, 100000):
        with pytest.raises(ConfigError, match="motion_stride"):
            SegmentSpec(motion_stride=stride)
    assert all(SegmentSpec(motion_stride=s).motion_stride == s for s in MOTION_STRIDES)


def test_range_semantics():
    r = Range(0, 1, lo_open=True)
    assert not r.ok(0) and r.ok(1) and r.ok(0.5) and not r.ok(1.01) and not r.ok(True) and not r.ok("1")
    i = Range(1, 5, integer=True)
    assert i.ok(5) and not i.ok(2.0) and not i.ok(6)
    with pytest.raises(ConfigError, match=r"^k 9: must be an integer from 1 to 5$"):
        i.check("k", 9)
