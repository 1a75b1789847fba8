"""The one output layer of `run`, `batch` and `serve`: what to write (OutputSpec) and the sinks that write it.

Usage::

    outputs = OutputSpec(stats="s.jsonl", overlay="o.mp4", overlay_scale=0.5)
    sinks = open_outputs(outputs, classes=b.classes, palette=b.palette, fps=25)   # each on its writer thread
    for sink in sinks: sink.write(result)

Each output is a sink registered in SINKS under its OutputSpec field, with what it reads from a Result
(full-resolution labels, labels sampled for class fractions, the frame's pixels): a Result makes its labels
only when a sink reads them, at the resolution it reads them (edgeseg.pipeline.result), so a run computes
only what some output needs. `run`'s flags, `batch --outputs` and `serve`'s camera keys all become an
OutputSpec; `serve`'s rolling segments open the same sinks per segment (edgeseg.service.segments).

Contract: either every requested output opens, or none is left behind (a bad overlay path does not leave
an empty stats file). Each sink removes what it created when it is closed before its first frame.
Names everywhere: masks ``frame-000000.png`` (atomic writes), one stats line schema (sink/stats.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from edgeseg.limits import ALPHA, OVERLAY_SCALE
from edgeseg.registry import Registry
from edgeseg.sink.writer import ThreadedSink


@dataclass(frozen=True, kw_only=True)
class OutputSpec:
    """What a run writes: a path per output (None: not written) and the outputs' settings."""

    masks: str | Path | None = None  # directory of frame-000000.png label masks
    stats: str | Path | None = None  # one JSON line per frame
    overlay: str | Path | None = None  # colour overlay video (.mp4)
    label_video: str | Path | None = None  # lossless label video: .avi (JPEG-LS) or .mkv (FFV1)
    alpha: float = 0.5  # overlay opacity
    overlay_scale: float = 1.0  # overlay size relative to the video
    zones: object = None  # edgeseg.sink.zones.Zones: the stats lines also carry class fractions per zone

    def __post_init__(self):
        ALPHA.check("alpha", self.alpha)
        OVERLAY_SCALE.check("overlay_scale", self.overlay_scale)

    @property
    def requested(self) -> tuple[str, ...]:
        """The outputs asked for, in SINKS' order."""
        return tuple(name for name in SINKS.names() if getattr(self, name) is not None)

    def replace(self, **changes) -> OutputSpec:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class OutputContext:
    """What a sink may need besides the OutputSpec: the model's classes and palette, the stream's rate."""

    classes: list[str]
    palette: object
    fps: float
    live: bool = False


def _masks(path, outputs: OutputSpec, ctx: OutputContext):
    from edgeseg.sink.masks import MaskSink

    return MaskSink(path)


def _stats(path, outputs: OutputSpec, ctx: OutputContext):
    from edgeseg.sink.stats import StatsSink
    from edgeseg.sink.zones import ZoneCounter

    zones = ZoneCounter(outputs.zones, ctx.classes) if outputs.zones is not None else None
    return StatsSink(path, classes=ctx.classes, zones=zones)


def _overlay(path, outputs: OutputSpec, ctx: OutputContext):
    from edgeseg.sink.overlay import OverlaySink

    return OverlaySink(path, palette=ctx.palette, fps=ctx.fps, alpha=outputs.alpha, scale=outputs.overlay_scale,
                       live=ctx.live)


def _label_video(path, outputs: OutputSpec, ctx: OutputContext):
    from edgeseg.sink.labels import LabelVideoSink

    return LabelVideoSink(path, fps=ctx.fps)


# name (an OutputSpec field) → factory(path, outputs, ctx) → sink with write(result) and close();
# reads: what it takes from a Result. The masks directory opens first: other outputs may be written into it.
SINKS: Registry = Registry("output", reads="labels")
SINKS.register("masks", _masks, reads="labels")
SINKS.register("stats", _stats, reads="sampled labels (class fractions)")
SINKS.register("overlay", _overlay, reads="labels (sampled for a smaller overlay) and pixels")
SINKS.register("label_video", _label_video, reads="labels")


def open_outputs(outputs: OutputSpec, *, classes, palette, fps: float, live: bool = False,
                 threaded: bool = True, depth: int = 8) -> list:
    """The requested sinks, in SINKS' order; on writer threads unless threaded=False."""
    ctx = OutputContext(classes=list(classes), palette=palette, fps=fps, live=live)
    sinks = []
    try:
        for name in outputs.requested:
            sinks.append(SINKS.get(name)(getattr(outputs, name), outputs, ctx))
    except BaseException:
        for sink in reversed(sinks):
            sink.close()  # nothing was written: each removes the file or directory it made (files first)
        raise
    return [ThreadedSink(s, depth=depth) for s in sinks] if threaded else sinks
