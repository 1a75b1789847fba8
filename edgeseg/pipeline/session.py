"""One call that wires a whole run: bundle → backend, source → motion → segmenter → sinks.

Usage: ``summary = segment_source("clip.mp4", mode="interp", keyframe_interval=10, stats="s.jsonl")``
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from pathlib import Path

from edgeseg.pipeline.networks import open_networks
from edgeseg.pipeline.run import RunSummary, run_stream
from edgeseg.pipeline.segmenter import StreamSegmenter
from edgeseg.schedule import make_policy

MOTION_STRIDE = 16


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


def needs_vectors(mode: str) -> bool:
    """Whether a mode uses block motion (frame and flow modes do not: their sources skip the MV export)."""
    return mode not in ("frame", "flow")


def motion_pairs(source, *, mode: str, stride: int = MOTION_STRIDE):
    """(frame, field) pairs for a mode: block motion, optical flow, or none (frame mode)."""
    if mode == "frame":
        return ((frame, None) for frame in source)
    if mode == "flow":
        from edgeseg.motion.flow import OpticalFlowFields

        return OpticalFlowFields(stride=stride).fields(source)
    from edgeseg.motion.dense import MotionFieldBuilder

    return MotionFieldBuilder(stride=stride).fields(source)


def build_sinks(*, bundle, fps: float, overlay=None, masks=None, stats=None, alpha: float = 0.5,
                overlay_scale: float = 1.0, live: bool = False) -> list:
    from edgeseg.sink.outputs import open_sinks  # each output on its own writer thread

    return open_sinks(classes=bundle.classes, palette=bundle.palette, fps=fps, overlay=overlay, masks=masks,
                      stats=stats, alpha=alpha, overlay_scale=overlay_scale, live=live)


def segment_source(spec: str, *, bundle=None, mode: str = "interp", keyframe_interval: int = 10,
                   iframe_keys: bool = True, keyframes: str = "fixed", keyframe_budget: float | None = None,
                   max_keyframe_interval: int | None = None, fusion: str = "linear", backend: str = "auto", threads: int | None = None,
                   overlay: str | Path | None = None, masks: str | Path | None = None,
                   stats: str | Path | None = None, alpha: float = 0.5, overlay_scale: float = 1.0,
                   max_frames: int | None = None,
                   progress: bool = False, handle_signals: bool = False,
                   stop: threading.Event | None = None) -> RunSummary:
    """Segment one source end to end and write the requested outputs; returns the run's summary."""
    from edgeseg.source import open_source

    nets, bundle = open_networks(bundle, backend=backend, threads=threads)
    policy = make_policy(keyframes, interval=keyframe_interval, budget=keyframe_budget,
                         max_interval=max_keyframe_interval, at_iframes=iframe_keys)
    segmenter = StreamSegmenter(nets, mode=mode, policy=policy, model_hw=bundle.input_hw,
                                mean=bundle.mean, std=bundle.std, fusion=fusion)
    stop = stop or threading.Event()
    extra: dict = {}
    with open_source(spec, export_mvs=needs_vectors(mode)) as source:
        fps = getattr(source.info, "fps", None) or 25.0
        sinks = build_sinks(bundle=bundle, fps=fps, overlay=overlay, masks=masks, stats=stats, alpha=alpha,
                            overlay_scale=overlay_scale, live=source.info.is_live)
        bar = _progress_bar(source, max_frames) if progress else None
        on_result = (lambda _r: bar.update(1)) if bar is not None else None
        guard = stop_on_signals(stop, extra) if handle_signals else contextlib.nullcontext()
        try:
            with guard:
                summary = run_stream(motion_pairs(source, mode=mode), segmenter, sinks=sinks,
                                     max_frames=max_frames, stop=stop, on_result=on_result)
        finally:
            if bar is not None:
                bar.close()
        summary.extra.update(extra)
        summary.extra["source"] = dataclasses.asdict(source.stats)
        summary.corrupt = source.stats.corrupt
    return summary


def _progress_bar(source, max_frames):
    from tqdm import tqdm

    total = getattr(source.info, "frames", None) or None
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    return tqdm(total=total, unit="frame", leave=False, dynamic_ncols=True)
