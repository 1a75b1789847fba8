import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.motion.field import MotionField
from edgeseg.schedule import AdaptiveKeyframes, make_policy
from edgeseg.source.frame import Frame


def _frame(i, t="P"):
    return Frame(index=i, pts=i / 25, pict_type=t, image=np.zeros((64, 64, 3), np.uint8))


def _field(*, speed=0.0, valid=1.0, seed=0):
    f = MotionField.empty(64, 64, 16)
    rng = np.random.default_rng(seed)
    f.dx[:] = speed + rng.normal(0, 0.1, f.shape)
    f.valid[:] = rng.random(f.shape) < valid
    return f


def _stream(n=600):
    """A clip with calm, fast and cut segments: (frame, field) per frame."""
    out = []
    for i in range(1, n):
        seg = (i // 100) % 3
        if i % 150 == 0:
            out.append((_frame(i, "I"), MotionField.empty(64, 64, 16)))
        elif i % 97 == 0:
            out.append((_frame(i), _field(speed=1.0, valid=0.1, seed=i)))  # scene cut coded as P
        else:
            out.append((_frame(i), _field(speed=[0.2, 6.0, 1.0][seg], valid=[1.0, 0.8, 0.95][seg], seed=i)))
    return out


def _decide(policy, stream):
    keys, since = [], 0
    for frame, fld in stream:
        since += 1
        k = policy.decide(frame, fld, since)
        keys.append(k)
        if k:
            since = 0
    return np.array(keys)


def _gaps(keys):
    return np.diff(np.flatnonzero(np.concatenate([[True], keys])))


def _assert_cuts_are_keyframes(stream, keys):
    for (frame, fld), k in zip(stream, keys, strict=True):
        if frame.pict_type == "I" or fld.valid_fraction < 0.25:
            assert k, f"frame {frame.index} is a cut/I-frame but not a keyframe"


def test_forces_keyframes_at_iframes_and_cuts():
    stream = _stream()
    keys = _decide(AdaptiveKeyframes(budget=0.1, max_interval=30), stream)
    _assert_cuts_are_keyframes(stream, keys)


@pytest.mark.parametrize("budget", [0.1, 0.2])
def test_respects_budget_and_max_interval(budget):
    stream = _stream(2000)
    keys = _decide(AdaptiveKeyframes(budget=budget, max_interval=25), stream)
    assert abs(keys.mean() - budget) <= 0.25 * budget  # forced cuts included
    assert _gaps(keys).max() <= 25


def test_spends_budget_where_motion_is():
    stream = _stream(1200)
    keys = _decide(AdaptiveKeyframes(budget=0.1, max_interval=40), stream)
    seg = np.array([(f.index // 100) % 3 for f, _ in stream])
    assert keys[seg == 1].mean() > 1.5 * keys[seg == 0].mean()  # fast segments get more keyframes


def test_deterministic():
    stream = _stream(500)
    a = _decide(AdaptiveKeyframes(budget=0.1), stream)
    b = _decide(AdaptiveKeyframes(budget=0.1), stream)
    assert (a == b).all()


def test_make_policy():
    assert make_policy("adaptive", interval=5).budget == pytest.approx(0.2)
    with pytest.raises(ConfigError, match=r"^keyframes 'nope': unknown; choose from fixed, adaptive$"):
        make_policy("nope")
    with pytest.raises(ValueError):
        AdaptiveKeyframes(budget=0)


# -- look-ahead placement (interp) ---------------------------------------------------------------------
def _place(policy, stream):
    """Drive `place` as the interp segmenter does → keyframe flags per frame of the stream."""
    keys, held = np.zeros(len(stream), bool), 0
    for n, (frame, fld) in enumerate(stream):
        held += 1
        positions = policy.place(frame, fld, held)
        assert list(positions) == sorted(set(positions)) and all(1 <= p <= held for p in positions)
        for p in positions:
            keys[n - held + p] = True
        held -= positions[-1] if positions else 0
    return keys


def test_lookahead_forces_keyframes_at_iframes_and_cuts():
    stream = _stream(900)
    keys = _place(AdaptiveKeyframes(budget=0.1, max_interval=15), stream)
    _assert_cuts_are_keyframes(stream, keys)


@pytest.mark.parametrize("budget", [0.1, 0.2])
def test_lookahead_respects_budget_and_max_interval(budget):
    keys = _place(AdaptiveKeyframes(budget=budget, max_interval=round(1.5 / budget)), _stream(2000))
    assert abs(keys.mean() - budget) <= 0.15 * budget  # forced cuts included
    assert _gaps(keys).max() <= round(1.5 / budget)


def test_lookahead_deterministic():
    stream = _stream(500)
    assert (_place(AdaptiveKeyframes(budget=0.1), stream) == _place(AdaptiveKeyframes(budget=0.1), stream)).all()


def test_lookahead_puts_keyframes_where_the_signal_is():
    """Calm motion with two bursts of fast motion, the second ending in a cut (an I-frame): the bursts get
    shorter gaps than the calm stretches, and the fast frames before the cut get a keyframe close to it (they
    cannot use the cut's features, so without one they would be warped forward only)."""
    fast = set(range(100, 140)) | set(range(292, 300))
    stream = [(_frame(i, "I"), MotionField.empty(64, 64, 16)) if i == 300 else
              (_frame(i), _field(speed=8.0 if i in fast else 0.5, seed=i)) for i in range(1, 401)]
    keys = _place(AdaptiveKeyframes(budget=0.1, max_interval=20), stream)
    idx = np.array([f.index for f, _ in stream])
    burst, calm = keys[(idx >= 100) & (idx < 140)].mean(), keys[(idx >= 160) & (idx < 290)].mean()
    assert burst > 1.5 * calm, (burst, calm)  # gaps ∝ 1/√staleness: the optimum of a quadratic gap cost
    assert keys[(idx >= 296) & (idx < 300)].any(), np.flatnonzero(keys) + 1


def test_gap_costs_match_uniform_staleness():
    """Uniform staleness s: a gap of j frames costs s (j² − 1) / 3 (the budget's λ assumes this)."""
    cost = AdaptiveKeyframes(budget=0.1).gap_costs(np.full(12, 0.5), np.zeros(12, bool))
    for j in range(1, 13):
        assert cost[0, j] == pytest.approx(0.5 * (j * j - 1) / 3)
    broken = np.zeros(12, bool)
    broken[-1] = True  # the keyframe at 12 has no motion to its predecessor: its gap is forward-only
    assert AdaptiveKeyframes(budget=0.1).gap_costs(np.full(12, 0.5), broken)[0, 12] == pytest.approx(
        0.5 * sum(range(1, 12)))
