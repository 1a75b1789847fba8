import numpy as np
import pytest

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


def _run(policy, stream):
    keys, since = [], 0
    for frame, fld in stream:
        since += 1
        k = policy.decide(frame, fld, since)
        keys.append(k)
        if k:
            since = 0
    return np.array(keys)


def test_forces_keyframes_at_iframes_and_cuts():
    stream = _stream()
    keys = _run(AdaptiveKeyframes(budget=0.1, max_interval=30), stream)
    for (frame, fld), k in zip(stream, keys, strict=True):
        if frame.pict_type == "I" or fld.valid_fraction < 0.25:
            assert k, f"frame {frame.index} is a cut/I-frame but not a keyframe"


@pytest.mark.parametrize("budget", [0.1, 0.2])
def test_respects_budget_and_max_interval(budget):
    stream = _stream(2000)
    keys = _run(AdaptiveKeyframes(budget=budget, max_interval=25), stream)
    assert abs(keys.mean() - budget) <= 0.25 * budget  # forced cuts included
    gaps = np.diff(np.flatnonzero(np.concatenate([[True], keys])))
    assert gaps.max() <= 25


def test_spends_budget_where_motion_is():
    stream = _stream(1200)
    keys = _run(AdaptiveKeyframes(budget=0.1, max_interval=40), stream)
    seg = np.array([(f.index // 100) % 3 for f, _ in stream])
    assert keys[seg == 1].mean() > 1.5 * keys[seg == 0].mean()  # fast segments get more keyframes


def test_deterministic():
    stream = _stream(500)
    a = _run(AdaptiveKeyframes(budget=0.1), stream)
    b = _run(AdaptiveKeyframes(budget=0.1), stream)
    assert (a == b).all()


def test_make_policy():
    assert make_policy("adaptive", interval=5).budget == pytest.approx(0.2)
    with pytest.raises(ValueError):
        make_policy("nope")
    with pytest.raises(ValueError):
        AdaptiveKeyframes(budget=0)
