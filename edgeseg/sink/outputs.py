"""The outputs of a run (stats, masks, overlay), each written on its own thread.

Usage: ``sinks = open_sinks(classes=b.classes, palette=b.palette, fps=25, overlay="o.mp4", stats="s.jsonl")``

Contract: either every requested output opens, or none is left behind (a bad overlay path does not leave
an empty stats file). Each sink removes what it created when it is closed before its first frame.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.sink.writer import ThreadedSink


def open_sinks(*, classes, palette, fps: float, overlay: str | Path | None = None,
               masks: str | Path | None = None, stats: str | Path | None = None, alpha: float = 0.5,
               overlay_scale: float = 1.0, live: bool = False, threaded: bool = True, depth: int = 8) -> list:
    """The requested sinks, in the order masks, stats, overlay; on writer threads unless threaded=False."""
    from edgeseg.sink.masks import MaskSink
    from edgeseg.sink.overlay import OverlaySink
    from edgeseg.sink.stats import StatsSink

    makers = []  # the masks' directory first: the other outputs may be written into it
    if masks is not None:
        makers.append(lambda: MaskSink(masks))
    if stats is not None:
        makers.append(lambda: StatsSink(stats, classes=classes))
    if overlay is not None:
        makers.append(lambda: OverlaySink(overlay, palette=palette, fps=fps, alpha=alpha, scale=overlay_scale,
                                          live=live))
    sinks = []
    try:
        for make in makers:
            sinks.append(make())
    except BaseException:
        for sink in reversed(sinks):
            sink.close()  # nothing was written: each removes the file or directory it made (files first)
        raise
    return [ThreadedSink(s, depth=depth) for s in sinks] if threaded else sinks
