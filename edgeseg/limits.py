"""The accepted range of every numeric setting, declared once for the CLI flags and the service's TOML keys.

Usage: ``THREADS.check("threads", 4)``; ``click.option("--threads", type=THREADS.click())``

A value outside its range is a one-line error naming the setting (absurd values used to hang onnxruntime
or the motion pooling). tests/test_limits.py walks every command's options and every service key, so a new
numeric one cannot miss its range.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A closed (or left-open) interval of numbers; `integer` also rejects non-integers."""

    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False

    def ok(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        return (value > self.lo if self.lo_open else value >= self.lo) and value <= self.hi

    def describe(self) -> str:
        if self.integer:
            return f"an integer from {self.lo:g} to {self.hi:g}"
        return f"a number in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"

    def check(self, name: str, value):
        """value if it is in range, else ConfigError "NAME VALUE: must be …"."""
        if not self.ok(value):
            raise ConfigError(f"{name} {value!r}: must be {self.describe()}")
        return value

    def click(self):
        """The matching click parameter type (IntRange / FloatRange with both bounds)."""
        import click

        if self.integer:
            return click.IntRange(int(self.lo), int(self.hi))
        return click.FloatRange(self.lo, self.hi, min_open=self.lo_open)


# shared by run, bench, batch and serve
THREADS = Range(1, 256, integer=True)  # onnxruntime intra-op threads (100000 made session creation hang)
MAX_FRAMES = Range(1, 10**9, integer=True)
TIMEOUT_S = Range(0.1, 3600)  # connect / read timeout of live sources
ALPHA = Range(0, 1)
OVERLAY_SCALE = Range(0, 1, lo_open=True)
FRACTION = Range(0, 1, lo_open=True)

# the segmenter's numeric settings (SegmentSpec fields, CLI flags and camera keys alike)
SPEC = {
    "keyframe_interval": Range(1, 1000, integer=True),
    "keyframe_budget": FRACTION,
    "max_keyframe_interval": Range(1, 10000, integer=True),
    "warp_stride": Range(1, 64, integer=True),
    "motion_stride": Range(1, 64, integer=True),
    "fill_rounds": Range(0, 64, integer=True),
    "correct": FRACTION,
    "correct_error": Range(0, 765),
}
MOTION_STRIDES = (1, 2, 4, 8, 16, 32, 48, 64)  # cells of whole 8×8 units or whole macroblocks


def check_motion_stride(name: str, stride) -> int:
    """A motion-field cell size the motion code supports (one of MOTION_STRIDES)."""
    if isinstance(stride, bool) or stride not in MOTION_STRIDES:
        raise ConfigError(f"{name} {stride!r}: must be one of {', '.join(map(str, MOTION_STRIDES))}")
    return int(stride)
