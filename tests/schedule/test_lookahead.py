"""Look-ahead keyframe placement in the segmenter's interp path, on a real clip (real decoding, motion
vectors and onnxruntime)."""

import numpy as np

from edgeseg.pipeline import SegmentSpec, build_segmenter, motion_pairs, open_for, run_stream
from edgeseg.schedule import DecideEach, make_policy


class _Scripted:
    """A look-ahead policy that places keyframes at given frame indices, `delay` frames after they arrive."""

    cut_below = 0.0

    def __init__(self, keys, delay):
        self.keys, self.delay = keys, delay

    def decide(self, frame, field, since_key):
        raise AssertionError("interp asks a look-ahead policy to place, not to decide")

    def place(self, frame, field, held):
        first, k = frame.index - held + 1, frame.index - self.delay  # first: the frame at position 1
        return (k - first + 1,) if k in self.keys and k >= first else ()


def _run(clip, nets, bundle, policy):
    spec = SegmentSpec(mode="interp")
    seg = build_segmenter(spec, nets=nets, bundle=bundle, policy=policy)
    out = {}
    with open_for(spec, str(clip.video)) as src:
        summary = run_stream(motion_pairs(src, spec), seg,
                             on_result=lambda r: out.__setitem__(r.frame.index, (r.labels, r.keyframe)))
    return out, summary


class _Decider(DecideEach):
    cut_below = 0.0

    def __init__(self, keys):
        self.keys = keys

    def decide(self, frame, field, since_key):
        return frame.index in self.keys


def test_segmenter_places_keyframes_back_in_the_window(street_clip, colour):
    """Keyframes placed late (4 frames after they arrived) give exactly the labels of deciding them on arrival."""
    keys = {7, 12, 19, 20, 27, 33}
    late, _ = _run(street_clip, *colour, _Scripted(keys, delay=4))
    direct, _ = _run(street_clip, *colour, _Decider(keys))
    assert list(late) == list(range(street_clip.frames))  # every frame, in display order
    assert {i for i, (_, k) in late.items() if k} == keys | {0, street_clip.frames - 1}
    for i in direct:
        assert np.array_equal(late[i][0], direct[i][0]), f"frame {i} differs"


def test_adaptive_interp_on_a_clip(street_clip, colour):
    policy = make_policy("adaptive", interval=5)
    labels, summary = _run(street_clip, *colour, policy)
    assert list(labels) == list(range(street_clip.frames))
    assert labels[20][1], "the scene cut at frame 20 is not a keyframe"
    assert summary.max_held <= policy.max_interval
    keys = np.flatnonzero([labels[i][1] for i in labels])
    assert np.diff(keys).max() <= policy.max_interval
