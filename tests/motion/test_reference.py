"""Each vector's reference frame identified from the decoded pixels (edgeseg.motion.reference), and B-frame
fields as good as P-only ones on the same content."""

from __future__ import annotations

import clips
import numpy as np
import pytest

from edgeseg.motion.dense import MotionFieldBuilder
from edgeseg.motion.reference import LumaHistory, _identify_into, _identify_numpy
from edgeseg.source import open_source

SLOW = (0.6, -0.35)  # slow motion: B-frames code much of it as zero vectors, and wrong distances stay under 0.5 px
TOLERANCE = 0.1  # px: a B-frame's field may be this much worse than the P-only encode's


def _fields(path, **kw):
    with open_source(path) as src:
        builder = MotionFieldBuilder(**kw)
        return list(builder.fields(src)), builder


def _b_error(clip, pairs):
    return clips.field_error(clip, [(f, fld) for f, fld in pairs if f.pict_type == "B"])[0]


@pytest.fixture(scope="module")
def slow_clips(tmp_path_factory):
    """The same slow pan encoded by x264's medium preset (B-pyramid, 3 references) with 0, 2 and 3 B-frames."""
    d = tmp_path_factory.mktemp("slow")
    return {bf: clips.translate_clip(d / f"b{bf}.mp4", size=(320, 192), frames=16, shift_xy=SLOW, bframes=bf,
                                     preset="medium", refs=3) for bf in (0, 2, 3)}


@pytest.mark.parametrize("bframes", [2, 3])
def test_b_frame_fields_are_as_good_as_the_p_only_encode(slow_clips, bframes):
    p_only, _ = _fields(slow_clips[0].path)
    p_err, valid = clips.field_error(slow_clips[0], p_only)
    pairs, builder = _fields(slow_clips[bframes].path)
    assert "B" in "".join(f.pict_type for f, _ in pairs) and valid > 0.9
    b_err = _b_error(slow_clips[bframes], pairs)
    assert b_err <= p_err + TOLERANCE, (b_err, p_err)
    assert builder.identified > 0  # the pixels moved vectors to other frames than the nearest anchor
    assert all(f.meta.get("refs") == "pixels" for f, _ in pairs if f.pict_type == "B")


def test_identified_frames_beat_the_prior_agreement_rule_on_uneven_motion(tmp_path):
    """Multi-reference P-frames on motion that changes every frame: the previous field is a poor guess of a
    vector's distance, the pixels are not."""
    clip = clips.shaky_clip(tmp_path / "shaky.mp4", refs=3)
    assumed, _ = _fields(clip.path, identify=False)
    identified, builder = _fields(clip.path)
    before, after = clips.field_error(clip, assumed)[0], clips.field_error(clip, identified)[0]
    assert builder.identified > 50
    assert after < 0.75 * before, (after, before)


def _alternating_clip(path, frames=12):
    """Two scenes cut in turn (A B A B …), each panning at its own speed: every block of frame t is found two
    frames back, never in frame t-1. Returns the clip and the scenes' per-frame motion."""
    w, h = 320, 192
    shifts = [(1.0, 0.5), (-1.5, 0.75)]
    pad = 40
    textures = [clips.texture(h + 2 * pad, w + 2 * pad, seed=s) for s in (5, 6)]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for t in range(frames):
        scene, u = t % 2, t // 2
        sx, sy = shifts[scene]
        images.append(np.clip(clips._bilinear(textures[scene], xs + pad - sx * u, ys + pad - sy * u), 0, 255)
                      .astype(np.uint8))
    clips._encode(path, images, 25.0, crf=18, preset="veryfast", bframes=0, refs=4,
                  options={"x264-params": "scenecut=0"})
    return shifts


def test_identified_reference_frames_agree_with_the_true_motion(tmp_path):
    shifts = _alternating_clip(tmp_path / "alt.mp4")
    history = LumaHistory()
    checked = agree = 0
    with open_source(tmp_path / "alt.mp4") as src:
        for frame in src:
            history.add(frame)
            if frame.pict_type != "P" or frame.index < 4:
                continue
            mvs = frame.mvs[frame.mvs[:, 9] > 0]
            moving = np.hypot(mvs[:, 7], mvs[:, 8]) / mvs[:, 9] > 1.0
            dist, _ = history.identify(frame.index, mvs, np.ones(len(mvs)), past=[1, 2, 3, 4], future=[])
            # the true motion: this scene's content moved by 2 frames' worth of its shift since frame t-2
            sx, sy = shifts[frame.index % 2]
            velocity = mvs[:, 7:9] / mvs[:, 9:10] / dist[:, None]
            true = np.hypot(velocity[:, 0] + sx / 2, velocity[:, 1] + sy / 2) < 0.35  # per display frame
            checked += int(moving.sum())
            agree += int((moving & (dist % 2 == 0) & true).sum())  # found 2 (or 4) frames back, in its scene
    assert checked > 500
    assert agree / checked > 0.9, agree / checked


def test_compiled_identification_equals_the_array_path(numba_kernels):
    from edgeseg.motion.reference import GATE, MARGIN, MOVE, PROBE, PRUNE, SAMPLES, SWITCH, _kernel
    from edgeseg.system.jit import compiled

    kernel = _kernel()
    assert kernel is not None and compiled(_identify_into) is not None
    rng = np.random.default_rng(3)
    h, w = 96, 160
    ring = np.empty((5, h, w), np.uint8)
    base = clips.texture(h + 40, w + 40, seed=9)
    for k in range(5):  # frames of a pan, plus noise
        ring[k] = np.clip(base[k * 4:k * 4 + h, k * 3:k * 3 + w, 0] + rng.normal(0, 2, (h, w)), 0, 255)
    sizes = [(16, 16), (16, 8), (8, 16), (8, 8)]
    mvs = []
    for _ in range(600):
        bw, bh = sizes[rng.integers(len(sizes))]
        x, y = int(rng.integers(-1, 20)) * 8 + bw // 2, int(rng.integers(-1, 12)) * 8 + bh // 2
        k = int(rng.integers(1, 4))
        scale = int(rng.choice([1, 2, 4]))
        mvs.append([int(rng.choice([-1, 1])), bw, bh, 0, 0, x, y, 3 * k * scale + int(rng.integers(-2, 3)),
                    4 * k * scale + int(rng.integers(-2, 3)), scale])
    mvs = np.array(mvs, np.int32)
    ks, slots = np.array([1, 2, 3], np.int64), np.array([1, 2, 3], np.int64)
    cur = ring[0]
    for scale, sparse in ((1, False), (2, False), (1, True)):
        dist = rng.choice([1.0, 2.0, 3.0], size=len(mvs))
        want, got = dist.copy(), dist.copy()
        n_numpy = _identify_numpy(mvs, cur, ring, (ks, slots), (ks[:2], slots[:2]), want, scale, sparse)
        n_kernel = kernel(mvs, cur, ring, ks, slots, ks[:2], slots[:2], got, SAMPLES, GATE, SWITCH, MARGIN, MOVE,
                          scale, PROBE, PRUNE, sparse)
        np.testing.assert_array_equal(got, want)
        assert n_numpy == n_kernel > 20  # the case exercises the switch


def test_a_source_without_planes_falls_back_to_the_assumed_frames(slow_clips):
    """Frames without decoder planes (an RGB source): nearest anchors assumed, counted per frame."""
    from edgeseg.source.frame import Frame

    with open_source(slow_clips[3].path) as src:
        frames = [Frame(f.index, f.pts, f.pict_type, f.image, f.mvs, dict(f.meta)) for f in src]
    out = list(MotionFieldBuilder().fields(frames))
    assert len(out) == 16
    assert {f.meta.get("refs") for f, _ in out if f.pict_type == "B"} == {"assumed"}


def test_large_frames_compare_fewer_frames_and_keep_b_frames_as_good(tmp_path):
    """At 720p a frame has more than BUDGET vectors: the others compare only their probed neighbour's frame.
    The B-frame fields of a slow pan stay within the tolerance of the P-only encode's."""
    from edgeseg.motion.reference import BUDGET

    encodes = {bf: clips.translate_clip(tmp_path / f"w{bf}.mp4", size=(1280, 720), frames=12, shift_xy=SLOW,
                                        bframes=bf, preset="medium", refs=3) for bf in (0, 3)}
    p_err = clips.field_error(encodes[0], _fields(encodes[0].path)[0])[0]
    pairs, builder = _fields(encodes[3].path)
    assert max(len(f.mvs) for f, _ in pairs if f.pict_type == "B") > BUDGET  # the sparse path ran
    assert builder.identified > 0
    assert _b_error(encodes[3], pairs) <= p_err + TOLERANCE
