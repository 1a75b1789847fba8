"""Keyframe scheduling: which frames run the feature network.

Usage: ``policy = make_policy("adaptive", interval=10)`` (budget defaults to 1/interval).
"""

from __future__ import annotations

from edgeseg.schedule.adaptive import AdaptiveKeyframes
from edgeseg.schedule.policy import FixedInterval, KeyframePolicy

POLICIES = ("fixed", "adaptive")


def make_policy(kind: str = "fixed", *, interval: int = 10, budget: float | None = None,
                max_interval: int | None = None, at_iframes: bool = True) -> KeyframePolicy:
    """fixed: every `interval` frames; adaptive: `budget` (default 1/interval) of frames, gaps ≤ max_interval
    (default 3 × interval)."""
    if kind == "fixed":
        return FixedInterval(interval=interval, at_iframes=at_iframes)
    if kind == "adaptive":
        return AdaptiveKeyframes(budget=budget if budget is not None else 1.0 / interval,
                                 max_interval=max_interval or 3 * interval, at_iframes=at_iframes)
    raise ValueError(f"unknown keyframe policy {kind!r}; choose from {', '.join(POLICIES)}")


__all__ = ["POLICIES", "AdaptiveKeyframes", "FixedInterval", "KeyframePolicy", "make_policy"]
