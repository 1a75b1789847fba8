"""Keyframe scheduling: which frames run the feature network.

Usage: ``policy = make_policy("adaptive", interval=10)`` (budget defaults to 1/interval).

A new policy is a class with ``decide`` and ``place`` (or DecideEach for frame-by-frame ones) and ``cut_below``,
and a factory registered in POLICIES here: ``--keyframes`` and the service's ``keyframes`` key offer it.
Metadata: ``restarts_at_iframes`` (with I-frame keys its schedule starts afresh at every I-frame and carries no
state across one: a stream cut at an IDR is keyed as the whole stream is; batch shards rely on it).
"""

from __future__ import annotations

from edgeseg.registry import Registry
from edgeseg.schedule.adaptive import AdaptiveKeyframes
from edgeseg.schedule.policy import DecideEach, FixedInterval, ForcedKeyframes, KeyframePolicy
from edgeseg.schedule.signal import Staleness

MAX_INTERVAL_FACTOR = 1.2  # adaptive: default longest gap, in units of 1/budget (docs/DECISIONS.md)


def default_max_interval(budget: float) -> int:
    """The longest gap an adaptive policy allows by default: 1.2 / budget frames (at least 1)."""
    return max(1, round(MAX_INTERVAL_FACTOR / budget))


def fixed_policy(*, interval: int, budget: float | None, max_interval: int | None,
                 at_iframes: bool) -> KeyframePolicy:
    """Every `interval` frames (budget and max_interval do not apply)."""
    return FixedInterval(interval=interval, at_iframes=at_iframes)


def adaptive_policy(*, interval: int, budget: float | None, max_interval: int | None,
                    at_iframes: bool) -> KeyframePolicy:
    """`budget` (default 1/interval) of the frames, placed by motion and intra signals; gaps ≤ max_interval
    (default 1.2 / budget)."""
    budget = budget if budget is not None else 1.0 / interval
    return AdaptiveKeyframes(budget=budget, max_interval=max_interval or default_max_interval(budget),
                             at_iframes=at_iframes)


# name → factory(*, interval, budget, max_interval, at_iframes) → a new KeyframePolicy
POLICIES: Registry = Registry("keyframes", restarts_at_iframes=False)
POLICIES.register("fixed", fixed_policy, restarts_at_iframes=True)
POLICIES.register("adaptive", adaptive_policy)


def make_policy(kind: str = "fixed", *, interval: int = 10, budget: float | None = None,
                max_interval: int | None = None, at_iframes: bool = True) -> KeyframePolicy:
    """A new policy of a registered kind (fixed, adaptive); an unknown kind is a one-line ConfigError."""
    return POLICIES.get(kind)(interval=interval, budget=budget, max_interval=max_interval, at_iframes=at_iframes)


__all__ = ["POLICIES", "AdaptiveKeyframes", "DecideEach", "FixedInterval", "ForcedKeyframes", "KeyframePolicy",
           "Staleness",
           "adaptive_policy", "default_max_interval", "fixed_policy", "make_policy"]
