"""The run loop: source → motion → segmenter → sinks, with clean stops and a summary.

Usage::

    summary = run_stream(pairs, segmenter, sinks=[StatsSink(...)], stop=threading.Event())

`pairs` yields (frame, motion field or None) in display order, e.g. from
``MotionFieldBuilder(stride=16).fields(open_source(spec))``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from edgeseg.errors import SourceError
from edgeseg.motion.field import MotionField
from edgeseg.pipeline.result import Result
from edgeseg.pipeline.segmenter import Segmenter
from edgeseg.source.frame import Frame


@dataclass(kw_only=True)
class RunSummary:
    """What a run did. fps counts the whole pipeline, decode to sinks."""

    frames: int = 0
    keyframes: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    max_held: int = 0  # most frames held at once waiting for a later keyframe (interp)
    source_error: str | None = None  # why the source ended early, if it did
    corrupt: int = 0  # frames the source lost to damage (counted by the source, logged as they happen)
    refs_assumed: int = 0  # B / multi-reference frames whose vectors' frames were assumed, not identified
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def keyframe_fraction(self) -> float:
        return self.keyframes / self.frames if self.frames else 0.0

    def line(self) -> str:
        note = " (interrupted)" if self.interrupted else ""
        if self.corrupt:
            note += f" ({self.corrupt} damaged frames skipped)"
        if self.source_error:
            note += f" (source ended early: {self.source_error})"
        if self.refs_assumed:
            note += (f" ({self.refs_assumed} frames without pixels to identify their vectors' reference frames: "
                     f"nearest anchors assumed)")
        return (f"{self.frames} frames in {self.seconds:.2f} s, {self.fps:.1f} fps (first frame to last output "
                f"written, model load excluded), "
                f"keyframes {self.keyframes} ({100 * self.keyframe_fraction:.1f}%){note}")


def run_stream(pairs: Iterable[tuple[Frame, MotionField | None]], segmenter: Segmenter, *,
               sinks: Iterable = (), max_frames: int | None = None, stop: threading.Event | None = None,
               on_result: Callable[[Result], None] | None = None) -> RunSummary:
    """Drive one stream to its end, to max_frames, or until `stop` is set; every result reaches every sink.

    Contract: when it returns, all frames pushed have been emitted (held interp frames are flushed) and
    the sinks are closed, also when the source raised.
    """
    sinks = list(sinks)
    summary = RunSummary()
    start = time.perf_counter()

    def deliver(results: list[Result]) -> None:
        for result in results:
            for sink in sinks:
                sink.write(result)
            summary.frames += 1
            summary.keyframes += result.keyframe
            summary.refs_assumed += result.frame.meta.get("refs") == "assumed"
            if on_result is not None:
                on_result(result)

    pushed = 0
    try:
        for frame, fld in pairs:
            deliver(segmenter.push(frame, fld))
            pushed += 1
            summary.max_held = max(summary.max_held, segmenter.held)
            if stop is not None and stop.is_set():
                summary.interrupted = True
                break
            if max_frames is not None and pushed >= max_frames:
                break
    except SourceError as exc:
        if pushed == 0:
            raise  # nothing was ever read: the input is bad, not cut short
        summary.source_error = str(exc)  # the stream ended abruptly: keep what was processed
    finally:
        try:
            deliver(segmenter.flush())
        finally:
            for sink in sinks:
                sink.close()
            summary.seconds = time.perf_counter() - start
    return summary
