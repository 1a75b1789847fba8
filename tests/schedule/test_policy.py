import numpy as np
import pytest

from edgeseg.motion.field import MotionField
from edgeseg.schedule.policy import FixedInterval
from edgeseg.source.frame import Frame


def _frame(i, t="P"):
    return Frame(index=i, pts=i / 25, pict_type=t, image=np.zeros((32, 32, 3), np.uint8))


def _field(valid_fraction):
    f = MotionField.empty(32, 32, 16)
    f.valid.flat[: int(round(valid_fraction * f.valid.size))] = True
    return f


def test_every_k_frames():
    p = FixedInterval(interval=3)
    assert [p.decide(_frame(i), _field(1), s) for i, s in [(1, 1), (2, 2), (3, 3)]] == [False, False, True]


def test_iframes_and_cuts_are_keyframes_unless_disabled():
    p = FixedInterval(interval=10)
    assert p.decide(_frame(4, "I"), _field(0), 4)
    assert p.decide(_frame(4, "P"), _field(0), 4)  # mostly intra: a scene cut
    assert not p.decide(_frame(4, "P"), _field(1), 4)
    off = FixedInterval(interval=10, at_iframes=False)
    assert not off.decide(_frame(4, "I"), _field(0), 4)


def test_bad_interval():
    with pytest.raises(ValueError):
        FixedInterval(interval=0)
