"""Adaptive keyframes from compressed-domain signals, under a keyframe budget.

Usage: ``policy = AdaptiveKeyframes(budget=0.1, max_interval=15)``; prop calls
``policy.decide(frame, field, since_key)``, interp ``policy.place(frame, field, held)`` (look-ahead).

What the stream already says, for free, about how stale the keyframe's features are: I-frames and scene
cuts (a P/B frame that is mostly intra-coded) are new content, always keyframes; between them each frame
adds a staleness `s` (edgeseg.schedule.signal: intra share, motion, motion differences, weighted by the
warping error they predict). A frame i after keyframe a and before keyframe b is predicted to be off by
- prop: D_f = Σ s over (a, i];
- interp: (1 − w)·D_f + w·D_b, D_b = Σ s over (i, b], w = (i − a)/(b − a) (w = 0 where the backward chain
  is broken, e.g. b is an I-frame).
Keyframes minimise Σ predicted error + λ · keyframes. λ is set so that a uniform staleness (its running
mean) gives gaps of 1 / budget, times exp(−gain · credit), credit = keyframes budgeted − keyframes spent so
far (within ±burst): stretches with more keyframes than the budget make later ones dearer, so on average
`budget` of the frames are keyframes (forced ones included). No gap exceeds `max_interval`.
- prop (no look-ahead): a keyframe when the staleness accumulated since the last one reaches the threshold
  that λ implies (running mean staleness · 1 / budget at zero credit).
- interp (look-ahead): the frames of a gap are held anyway, so the policy sees up to `max_interval` of them
  before placing the next keyframe at the j minimising (C(0, j) + λ) / j, the predicted error per frame of
  the gap with its keyframe's cost; when a cut/I-frame arrives, the keyframes before it are placed by
  dynamic programming over the held frames (e.g. one just before the cut, whose backward chain is broken).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.schedule.signal import Staleness
from edgeseg.source.frame import Frame


@dataclass(kw_only=True)
class AdaptiveKeyframes:
    """Budgeted, signal-driven keyframe placement. Deterministic: same stream → same decisions."""

    budget: float  # average fraction of frames that may be keyframes, 0 < budget ≤ 1
    max_interval: int = 15
    at_iframes: bool = True
    cut_valid_fraction: float = 0.25
    staleness: Staleness = field(default_factory=Staleness)
    burst: float = 4.0  # keyframes' worth of budget that may be saved up or borrowed
    gain: float = 0.35  # λ ∝ exp(−gain · credit): how hard unspent / overspent budget pulls
    _credit: float = field(default=0.0, init=False)  # keyframes budgeted − spent, within ±burst
    _acc: float = field(default=0.0, init=False)  # prop: staleness since the last keyframe
    _held: list = field(default_factory=list, init=False)  # interp: (s, broken) of the held frames
    horizon: int = 1000  # frames the running mean staleness remembers
    _mean: float = field(default=0.0, init=False)  # running mean staleness of non-cut frames
    _count: int = field(default=0, init=False)

    def __post_init__(self):
        if not 0.0 < self.budget <= 1.0:
            raise ValueError(f"keyframe budget must be in (0, 1], got {self.budget}")
        if self.max_interval < 1:
            raise ValueError(f"max keyframe interval must be ≥ 1, got {self.max_interval}")

    @property
    def cut_below(self) -> float:
        return self.cut_valid_fraction if self.at_iframes else 0.0

    def _cut(self, frame: Frame, field: MotionField | None) -> bool:
        return self.at_iframes and (frame.pict_type == "I" or (
            field is not None and field.valid_fraction < self.cut_valid_fraction))

    def _observe(self, s: float, cut: bool) -> None:
        if not cut:
            self._count += 1
            self._mean += (s - self._mean) / min(self._count, self.horizon)

    def _spend(self, keys: int) -> None:
        self._credit = min(max(self._credit + self.budget - keys, -self.burst), self.burst)

    def _unit(self, fallback: float) -> float:
        """Running mean staleness (λ's unit), times the budget controller's factor."""
        mean = self._mean if self._count else fallback
        return max(mean, 1e-6) * float(np.exp(-self.gain * self._credit))

    # -- prop: decide on the current frame ---------------------------------------------------------
    def decide(self, frame: Frame, field: MotionField | None, since_key: int) -> bool:
        s, cut = self.staleness(field), self._cut(frame, field)
        self._observe(s, cut)
        self._acc += s
        due = self._acc >= self._unit(s) / self.budget and self._credit >= 1.0 - self.burst  # borrow ≤ burst
        key = cut or due or since_key >= self.max_interval
        self._spend(int(key))
        if key:
            self._acc = 0.0
        return key

    # -- interp: place keyframes among the held frames -----------------------------------------------
    def place(self, frame: Frame, field: MotionField | None, held: int) -> tuple[int, ...]:
        s, cut = self.staleness(field), self._cut(frame, field)
        broken = field is None or field.valid_fraction == 0.0  # no motion to the previous frame (I-frame)
        prior = self._held[len(self._held) - (held - 1):] if held > 1 else []
        fill = (self._mean if self._count else s, False)
        self._held = [fill] * (held - 1 - len(prior)) + prior + [(s, broken)]  # in step with the caller
        self._observe(s, cut)
        keys: tuple[int, ...] = ()
        if cut or held >= self.max_interval:
            keys = self._plan(closed=cut)
            self._held = self._held[keys[-1]:]
        self._spend(len(keys))
        return keys

    def gap_costs(self, signals, broken) -> np.ndarray:
        """C[a, b]: predicted interp error of the frames strictly between keyframes at positions a < b
        (0 = the last keyframe, signals[i - 1] = frame i's staleness, broken[i - 1]: no motion to frame i-1)."""
        n = len(signals)
        acc = np.concatenate([[0.0], np.cumsum(signals)])
        nbroken = np.concatenate([[0], np.cumsum(broken)])
        i, a, b = np.ogrid[0:n + 1, 0:n + 1, 0:n + 1]
        inside = (a < i) & (i < b)
        back_ok = (nbroken[b] - nbroken[i]) == 0
        w = np.where(inside & back_ok, (i - a) / np.maximum(b - a, 1), 0.0)
        err = (1.0 - w) * (acc[i] - acc[a]) + w * (acc[b] - acc[i])
        return np.where(inside, err, 0.0).sum(axis=0)

    def _plan(self, *, closed: bool) -> tuple[int, ...]:
        sig = np.array([s for s, _ in self._held])
        n = len(sig)
        cost = self.gap_costs(sig, np.array([b for _, b in self._held], bool))
        k = 1.0 / self.budget
        lam = self._unit(float(sig.mean())) * (k * k + 1.0) / 3.0  # uniform staleness → gaps of 1/budget
        if not closed:  # open window: the first gap with the least predicted error per frame
            j = np.arange(1, n + 1)
            return (int(np.argmin((cost[0, 1:] + lam) / j)) + 1,)
        best, prev = np.zeros(n + 1), np.zeros(n + 1, int)  # closed: a keyframe is due at position n
        for b in range(1, n + 1):
            total = best[:b] + cost[:b, b] + lam
            prev[b] = int(np.argmin(total))
            best[b] = total[prev[b]]
        keys, b = [], n
        while b > 0:
            keys.append(b)
            b = prev[b]
        return tuple(reversed(keys))
