"""Live lag guard: frames are skipped while the output lags the stream, the next kept frame is a keyframe
with no motion field, and a keyframe is forced through the real policy."""

import numpy as np

from edgeseg.schedule import ForcedKeyframes, make_policy
from edgeseg.service.camera import backoff_delays, drop_late
from edgeseg.source.frame import Frame


def test_late_frames_are_dropped_and_the_chain_restarts():
    frames = [Frame(i, i * 0.1, "P", np.zeros((4, 4, 3), np.uint8)) for i in range(12)]
    now = {"t": 100.0}
    costs = {4: 1.05}  # every kept frame takes 0.1 s, frame 4 takes 1.05 s: frames 5..9 come too late
    dropped, kept = [], []
    for frame, fld in drop_late(((f, f"field{f.index}") for f in frames), max_lag_s=0.5,
                                on_drop=lambda f: dropped.append(f.index), clock=lambda: now["t"]):
        kept.append((frame.index, fld))
        now["t"] += costs.get(frame.index, 0.1)
    assert dropped == [5, 6, 7, 8, 9]  # lags 0.95 … 0.55 s
    assert kept == [(i, f"field{i}") for i in range(5)] + [(10, None), (11, "field11")]  # no motion across the gap


def test_forced_keyframe_and_backoff():
    policy = ForcedKeyframes(make_policy("fixed", interval=100, at_iframes=False))
    f = Frame(1, 0.04, "P", np.zeros((4, 4, 3), np.uint8))
    assert policy.decide(f, None, 1) is False
    policy.force = True
    assert policy.decide(f, None, 2) is True and policy.decide(f, None, 3) is False
    delays = backoff_delays(0.5, 4)
    assert [next(delays) for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]


def test_forced_keyframes_keeps_look_ahead_placement():
    """Wrapping an adaptive policy keeps interp's look-ahead path (place); force makes the newest held frame a
    keyframe and leaves the wrapped policy in step for the frames after it."""
    fixed = ForcedKeyframes(make_policy("fixed", interval=10, at_iframes=False))
    f = Frame(1, 0.04, "P", np.zeros((4, 4, 3), np.uint8))
    assert fixed.place(f, None, 3) == ()
    fixed.force = True
    assert fixed.place(f, None, 4) == (4,) and fixed.place(f, None, 5) == ()
    wrapped = make_policy("adaptive", interval=10)
    policy = ForcedKeyframes(wrapped)
    frames = [Frame(i, i * 0.04, "P", np.zeros((4, 4, 3), np.uint8)) for i in range(1, 8)]
    held, placed = 0, []
    for f in frames:
        held += 1
        if f.index == 5:
            policy.force = True
        keys = policy.place(f, None, held)
        placed += [f.index - held + k for k in keys]
        held -= keys[-1] if keys else 0
    assert placed == [5]  # forced at frame 5, nothing else due within 7 frames at budget 1/10
    assert len(wrapped._held) == held == 2  # the wrapped policy tracks the frames still held (6, 7)


def test_forced_keyframes_shows_the_wrapped_policys_cut_settings():
    """The segmenter reads cut_below to break interp's backward chain at scene cuts."""
    for kind in ("fixed", "adaptive"):
        wrapped = make_policy(kind, interval=10)
        assert ForcedKeyframes(wrapped).cut_below == wrapped.cut_valid_fraction > 0
        assert ForcedKeyframes(make_policy(kind, interval=10, at_iframes=False)).cut_below == 0.0
