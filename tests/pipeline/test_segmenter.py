"""The segmenter on real decoding, real motion vectors and real onnxruntime sessions.

The mode comparisons use the content-driven colour model (tests/color_bundle.py), whose labels
follow what the pixels look like whatever the state of the shipped reference weights; the parity with
PyTorch uses the shipped reference model.
"""

import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.pipeline import SegmentSpec, build_segmenter, motion_pairs, open_for, run_stream
from edgeseg.source import open_source


def _run(video, nets, bundle, spec):
    """({frame index: (labels, keyframe)}, summary, segmenter) of one run."""
    seg = build_segmenter(spec, nets=nets, bundle=bundle)
    out = {}
    with open_for(spec, str(video)) as src:
        summary = run_stream(motion_pairs(src, spec), seg,
                             on_result=lambda r: out.__setitem__(r.frame.index, (r.labels, r.keyframe)))
    return out, summary, seg


def _labels(clip, nets, bundle, mode, k, **kw):
    kw.setdefault("guide", False)  # the model's own upsampling unless a test asks for guidance
    kw.setdefault("fusion", "linear")
    return _run(clip.video, nets, bundle, SegmentSpec(mode=mode, keyframe_interval=k, **kw))[:2]


@pytest.fixture(scope="module")
def frame_labels(street_clip, colour):
    return _labels(street_clip, *colour, "frame", 1)[0]


def _agreement(a, b):
    return float(np.mean([np.mean(a[i][0] == b[i][0]) for i in b]))


def test_frame_mode_equals_full_model(street_clip, reference):
    torch = pytest.importorskip("torch")
    from edgeseg_models.reference import load_model

    from edgeseg.pipeline.preprocess import Preprocessor

    nets, bundle = reference
    frame_labels = _labels(street_clip, nets, bundle, "frame", 1)[0]
    model = load_model()
    with open_source(str(street_clip.video)) as src:
        for frame in src:
            if frame.index % 9:
                continue
            prep = Preprocessor(video_hw=frame.image.shape[:2], model_hw=bundle.input_hw, mean=bundle.mean,
                                std=bundle.std)
            with torch.no_grad():
                full = model(torch.from_numpy(prep(frame.image)))["out"][0].argmax(0).numpy()
            assert (frame_labels[frame.index][0] == full).mean() > 0.999


@pytest.mark.parametrize("mode", ["prop", "interp"])
def test_interval_one_equals_frame_mode(street_clip, colour, frame_labels, mode):
    labels, _ = _labels(street_clip, *colour, mode, 1)
    assert labels.keys() == frame_labels.keys()
    for i in frame_labels:
        assert np.array_equal(labels[i][0], frame_labels[i][0]), f"frame {i} differs"


def test_motion_beats_reuse_and_interp_beats_prop(street_clip, colour, frame_labels):
    reuse = _agreement(_labels(street_clip, *colour, "reuse", 5)[0], frame_labels)
    prop = _agreement(_labels(street_clip, *colour, "prop", 5)[0], frame_labels)
    interp = _agreement(_labels(street_clip, *colour, "interp", 5)[0], frame_labels)
    assert prop > reuse, (prop, reuse)
    assert interp > prop, (interp, prop)


def test_interp_holds_at_most_k_frames_and_emits_in_order(street_clip, colour):
    labels, summary = _labels(street_clip, *colour, "interp", 5)
    assert summary.max_held <= 5
    assert list(labels) == sorted(labels) and len(labels) == street_clip.frames
    assert labels[0][1]  # the first frame is a keyframe


def test_prop_strategies_agree(street_clip, colour, frame_labels):
    step, _ = _labels(street_clip, *colour, "prop", 5, propagation="step")
    compose, _ = _labels(street_clip, *colour, "prop", 5, propagation="compose")
    assert _agreement(step, compose) > 0.9


@pytest.mark.parametrize("mode", ["prop", "interp", "reuse"])
def test_score_space_equals_feature_space(street_clip, reference, mode):
    # The reference task network is one 1×1 conv: warping its scores must give the labels warping features gives.
    nets, bundle = reference
    scores, _ = _labels(street_clip, nets, bundle, mode, 5, space="scores")
    feats, _ = _labels(street_clip, nets, bundle, mode, 5, space="features")
    assert scores.keys() == feats.keys()
    assert _agreement(scores, feats) > 0.999  # float rounding at near-ties only


def test_auto_space_picks_scores_only_where_exact(street_clip, reference):
    nets, bundle = reference
    spec = SegmentSpec(mode="interp", keyframe_interval=5)
    assert build_segmenter(spec, nets=nets, bundle=bundle).space.space == "auto"
    _, _, seg = _run(street_clip.video, nets, bundle, spec)
    assert seg.space.space == "scores"
    assert seg.timings.calls["task"] == seg.keyframes  # the task network ran on keyframes only
    with pytest.raises(ConfigError, match="space 'pixels': unknown"):
        SegmentSpec(mode="prop", space="pixels")


def test_finer_warp_grid(street_clip, reference, frame_labels_reference):
    # Scores warped on an 8-pixel grid (8-pixel block motion): full-size labels, keyframes equal frame mode's.
    nets, bundle = reference
    spec = SegmentSpec(mode="interp", keyframe_interval=5, warp_stride=8, motion_stride=8, guide=False)
    out, _, seg = _run(street_clip.video, nets, bundle, spec)
    assert seg.space.space == "scores" and seg.space.grid.shape[:2] == (45, 60)
    assert out.keys() == frame_labels_reference.keys()
    for i, (labels, key) in out.items():
        assert labels.shape == frame_labels_reference[i][0].shape
        if key:
            assert np.array_equal(labels, frame_labels_reference[i][0])
    reuse, _ = _labels(street_clip, nets, bundle, "reuse", 5)
    assert _agreement(out, frame_labels_reference) > _agreement(reuse, frame_labels_reference)


@pytest.fixture(scope="module")
def frame_labels_reference(street_clip, reference):
    return _labels(street_clip, *reference, "frame", 1)[0]


def test_interp_does_not_blend_across_a_cut_coded_as_p_frame(tmp_path, colour):
    # Scene A, then (frame 15) scene B with x264's scene-cut detection off: the cut is a P-frame whose few
    # matched blocks still give it some motion. The frames before it must use keyframe 10 alone (as prop does).
    import clips

    from edgeseg.motion.dense import MotionFieldBuilder

    nets, bundle = colour
    a = clips.translate_clip(tmp_path / "a.mp4", frames=15, shift_xy=(2.0, 0.5), seed=0).images
    b = clips.translate_clip(tmp_path / "b.mp4", frames=15, shift_xy=(-1.5, 1.0), seed=7).images
    for img in b:  # a strip of scene A's last frame stays: those blocks of the cut are inter-coded
        img[:32] = a[-1][:32]
    video = clips.encode_with(tmp_path / "cut.mp4", a + b, codec="libx264",
                              options={"x264-params": "scenecut=0:keyint=250", "crf": "18"})
    with open_source(str(video)) as src:
        cut = [(f.pict_type, fld.valid_fraction) for f, fld in MotionFieldBuilder(stride=16).fields(src)][15]
    assert cut[0] != "I" and 0.0 < cut[1] < 0.25, cut  # the precondition this test is about

    def labels(mode):
        return _run(video, nets, bundle, SegmentSpec(mode=mode, keyframe_interval=10))[0]

    interp, prop = labels("interp"), labels("prop")
    assert interp[15][1] and prop[15][1]  # the cut is a keyframe in both
    for i in range(11, 15):
        assert np.array_equal(interp[i][0], prop[i][0]), f"frame {i} blended features of the next scene"


def test_guided_labels_beat_plain_against_ground_truth(street_clip, reference):
    # Each cell's scores weigh less at pixels whose colour differs from the colour they came with (a keyframe's
    # own, or its thumbnail carried along): closer to the ground truth on every kind of frame (K = 10).
    nets, bundle = reference
    k = len(bundle.classes)
    for mode, fusion in (("interp", "photometric"), ("prop", "linear"), ("frame", "linear")):
        plain, _ = _labels(street_clip, nets, bundle, mode, 10, fusion=fusion)
        guided, _ = _labels(street_clip, nets, bundle, mode, 10, fusion=fusion, guide=True)
        gain = _miou_all(guided, street_clip, k) - _miou_all(plain, street_clip, k)
        assert gain > 0.5, (mode, gain)


def _miou_all(out, clip, num_classes):
    from edgeseg.bench.metrics import confusion, miou
    from edgeseg.bench.table import LabelDir

    truth = LabelDir(clip.directory / "labels")
    return miou(sum(confusion(labels, truth[i], num_classes=num_classes) for i, (labels, _key) in out.items()))


def _miou_between_keyframes(out, clip, num_classes):
    from edgeseg.bench.metrics import confusion, miou
    from edgeseg.bench.table import LabelDir

    truth = LabelDir(clip.directory / "labels")
    return miou(sum(confusion(labels, truth[i], num_classes=num_classes) for i, (labels, key) in out.items()
                    if not key))


def test_photometric_fusion_beats_linear_against_ground_truth(street_clip, reference, frame_labels_reference):
    # Per-cell weights from how well each keyframe's warped thumbnail matches the frame: keyframes unchanged,
    # frames between them closer to the ground truth than the paper's linear weights (K = 10).
    nets, bundle = reference
    linear, _ = _labels(street_clip, nets, bundle, "interp", 10)
    photo, summary = _labels(street_clip, nets, bundle, "interp", 10, fusion="photometric")
    assert photo.keys() == linear.keys() and summary.max_held <= 10
    for i, (labels, key) in photo.items():
        assert key == linear[i][1]
        if key:
            assert np.array_equal(labels, frame_labels_reference[i][0])
    k = len(bundle.classes)
    gain = _miou_between_keyframes(photo, street_clip, k) - _miou_between_keyframes(linear, street_clip, k)
    assert gain > 1.0, gain


def test_photometric_fusion_in_feature_space_and_without_numba(street_clip, reference, jit_mode):
    # The same weights whatever is warped (class scores or features) and whichever kernels run.
    nets, bundle = reference
    scores, _ = _labels(street_clip, nets, bundle, "interp", 5, fusion="photometric", space="scores")
    feats, _ = _labels(street_clip, nets, bundle, "interp", 5, fusion="photometric", space="features")
    assert _agreement(scores, feats) > 0.999


def test_unknown_fusion_is_refused():
    with pytest.raises(ConfigError, match="fusion 'median': unknown; choose from linear, photometric"):
        SegmentSpec(mode="interp", fusion="median")


def test_frames_without_pixels_to_identify_reference_frames_are_counted(street_clip, colour):
    """B-frames of a source that gives no decoder planes (RGB frames) fall back to the nearest-anchor rule: the
    run's summary counts them and says so; a PyAV source identifies every one (none counted)."""
    from edgeseg.motion.dense import MotionFieldBuilder
    from edgeseg.source.frame import Frame

    nets, bundle = colour
    spec = SegmentSpec(mode="interp", keyframe_interval=5, guide=False)
    _, decoded, _ = _run(street_clip.video, nets, bundle, spec)
    assert decoded.refs_assumed == 0 and "assumed" not in decoded.line()
    with open_for(spec, str(street_clip.video)) as src:
        frames = [Frame(f.index, f.pts, f.pict_type, f.image, f.mvs, dict(f.meta)) for f in src]
    summary = run_stream(MotionFieldBuilder().fields(frames), build_segmenter(spec, nets=nets, bundle=bundle))
    b_frames = sum(f.pict_type == "B" for f in frames)
    assert b_frames > 5 and summary.frames == len(frames)
    assert summary.refs_assumed >= b_frames
    assert f"{summary.refs_assumed} frames without pixels to identify" in summary.line()
