"""Keyframe scheduling: which frames run the feature network.

Usage: ``policy = make_policy("adaptive", interval=10)`` (budget defaults to 1/interval).
"""

from __future__ import annotations

from edgeseg.schedule.adaptive import AdaptiveKeyframes
from edgeseg.schedule.policy import DecideEach, FixedInterval, ForcedKeyframes, KeyframePolicy
from edgeseg.schedule.signal import Staleness

POLICIES = ("fixed", "adaptive")
MAX_INTERVAL_FACTOR = 1.2  # adaptive: default longest gap, in units of 1/budget (docs/DECISIONS.md)


def default_max_interval(budget: float) -> int:
    """The longest gap an adaptive policy allows by default: 1.2 / budget frames (at least 1)."""
    return max(1, round(MAX_INTERVAL_FACTOR / budget))


def make_policy(kind: str = "fixed", *, interval: int = 10, budget: float | None = None,
                max_interval: int | None = None, at_iframes: bool = True) -> KeyframePolicy:
    """fixed: every `interval` frames; adaptive: `budget` (default 1/interval) of frames, gaps ≤ max_interval
    (default 1.2 / budget)."""
    if kind == "fixed":
        return FixedInterval(interval=interval, at_iframes=at_iframes)
    if kind == "adaptive":
        budget = budget if budget is not None else 1.0 / interval
        return AdaptiveKeyframes(budget=budget, max_interval=max_interval or default_max_interval(budget),
                                 at_iframes=at_iframes)
    raise ValueError(f"unknown keyframe policy {kind!r}; choose from {', '.join(POLICIES)}")


__all__ = ["POLICIES", "AdaptiveKeyframes", "DecideEach", "FixedInterval", "ForcedKeyframes", "KeyframePolicy",
           "Staleness",
           "default_max_interval", "make_policy"]
