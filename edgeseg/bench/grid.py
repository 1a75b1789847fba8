"""What `edgeseg bench` measures: the grid of settings (BenchGrid) and the rows it makes, in order.

Usage: ``rows = BenchGrid(modes=["frame", "interp"], intervals=[5, 10], guides=(False, True)).rows()``

The first row is always the reference, frame mode unguided (the model's own labels on every frame); frame mode
guided follows when asked for; then every other mode's fixed and adaptive rows. Each row is a dict of the
SegmentSpec fields the bench varies (mode, interval, keyframes, fusion, correct, guide).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.pipeline.modes import MODES, REFERENCE
from edgeseg.pipeline.spec import SegmentSpec


@dataclass(frozen=True, kw_only=True)
class BenchGrid:
    """modes × intervals, and for the modes that carry keyframe data: adaptive keyframes at adaptive_intervals
    (budget 1/K), interp's fusions, correction budgets (None: without) and guidance off/on."""

    modes: tuple[str, ...]
    intervals: tuple[int, ...]
    adaptive_intervals: tuple[int, ...] = ()
    fusions: tuple[str, ...] = ("linear",)
    corrections: tuple[float | None, ...] = (None,)
    guides: tuple[bool, ...] = (False,)

    def rows(self) -> list[dict]:
        return _plan(self.modes, self.intervals, self.adaptive_intervals, self.fusions, self.corrections,
                     self.guides)


def row_spec(row: dict) -> SegmentSpec:
    """The SegmentSpec of one bench row."""
    return SegmentSpec(mode=row["mode"], keyframe_interval=row["interval"], keyframes=row["keyframes"],
                       fusion=row["fusion"], correct=row["correct"], guide=row["guide"])


def row_of(mode, k, policy="fixed", fusion="linear", correct=None, guide=False) -> dict:
    return {"mode": mode, "interval": k, "keyframes": policy, "fusion": fusion, "correct": correct, "guide": guide}


def _tuned(mode: str) -> bool:
    """Modes that get rows with corrections and adaptive keyframes: those that carry keyframe data and are no
    baseline (prop, interp; edgeseg.pipeline.modes)."""
    return MODES.get(mode).carries and not MODES.meta(mode)["baseline"]


def _plan(modes, intervals, adaptive_intervals, fusions, corrections, guides) -> list[dict]:
    """The rows to run, in order: the reference (frame mode unguided, the model's own labels on every frame),
    frame mode guided if asked for, then every other mode's fixed and adaptive rows."""
    def variants(mode):  # (fusion, correction, guide) combinations of a mode's rows
        return [(f, c, g) for f in (fusions if MODES.get(mode).hold else ("linear",))
                for c in (corrections if _tuned(mode) else (None,)) for g in guides]

    todo = [row_of(REFERENCE, 1)]
    if REFERENCE in modes and True in guides:
        todo.append(row_of(REFERENCE, 1, guide=True))
    todo += [row_of(m, k, "fixed", *v) for m in modes if m != REFERENCE for v in variants(m) for k in intervals]
    todo += [row_of(m, k, "adaptive", *v) for m in modes if _tuned(m) for v in variants(m)
             for k in adaptive_intervals]
    return todo
