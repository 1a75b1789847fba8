"""One call that wires a whole run: bundle → backend, source → motion → segmenter → sinks.

Usage: ``summary = segment_source("clip.mp4", SegmentSpec(mode="interp"), outputs=OutputSpec(stats="s.jsonl"))``
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading

from edgeseg.backend.networks import open_networks
from edgeseg.pipeline.build import build_segmenter, motion_pairs, open_for
from edgeseg.pipeline.run import RunSummary, run_stream
from edgeseg.pipeline.spec import SegmentSpec


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, summary_extra: dict):
    """SIGINT/SIGTERM set `stop` (the frame in flight finishes, then outputs are flushed); restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        summary_extra["signal"] = signal.Signals(signum).name
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def build_sinks(outputs, *, bundle, fps: float, live: bool = False) -> list:
    """The outputs' sinks for a stream of this bundle's classes, each on its own writer thread."""
    from edgeseg.sink.outputs import open_outputs

    return open_outputs(outputs, classes=bundle.classes, palette=bundle.palette, fps=fps, live=live)


def segment_source(uri: str, spec: SegmentSpec | None = None, *, outputs=None, model=None,
                   backend: str = "auto", threads: int | None = None, max_frames: int | None = None,
                   timeout: float = 10.0, progress: bool = False, handle_signals: bool = False,
                   stop: threading.Event | None = None) -> RunSummary:
    """Segment one source end to end as `spec` says (default SegmentSpec()) and write `outputs` (an
    edgeseg.sink.outputs.OutputSpec; None: nothing); returns the run's summary. model: a bundle directory or
    Bundle (None: the shipped reference model). timeout: seconds to connect and per read for live sources."""
    from edgeseg.sink.outputs import OutputSpec

    spec = spec if spec is not None else SegmentSpec()
    outputs = outputs if outputs is not None else OutputSpec()
    nets, bundle = open_networks(model, backend=backend, threads=threads)
    segmenter = build_segmenter(spec, nets=nets, bundle=bundle)
    stop = stop or threading.Event()
    extra: dict = {}
    with open_for(spec, uri, timeout=timeout) as source:
        fps = getattr(source.info, "fps", None) or 25.0
        sinks = build_sinks(outputs, bundle=bundle, fps=fps, live=source.info.is_live)
        bar = _progress_bar(source, max_frames) if progress else None
        on_result = (lambda _r: bar.update(1)) if bar is not None else None
        guard = stop_on_signals(stop, extra) if handle_signals else contextlib.nullcontext()
        try:
            with guard:
                summary = run_stream(motion_pairs(source, spec), segmenter, sinks=sinks,
                                     max_frames=max_frames, stop=stop, on_result=on_result)
        finally:
            if bar is not None:
                bar.close()
        summary.extra.update(extra)
        # each stage's time per frame, labels included (made on the outputs' threads, done once sinks closed)
        summary.extra["stage_ms"] = {k: round(1e3 * v / max(summary.frames, 1), 4)
                                     for k, v in segmenter.timings.seconds.items()}
        summary.extra["source"] = dataclasses.asdict(source.stats)
        summary.corrupt = source.stats.corrupt
    return summary


def _progress_bar(source, max_frames):
    from tqdm import tqdm

    total = getattr(source.info, "frames", None) or None
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    return tqdm(total=total, unit="frame", leave=False, dynamic_ncols=True)
