"""Temporal consistency metrics on hand-built label sequences: TC (Liu et al.) and VSPW's VC_n; DIS flow's
direction on a shifted texture; `edgeseg bench --labels` rows carry vc8/vc16 equal to VC_n of frame mode's masks."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.bench.consistency import (
    TemporalConsistency,
    VideoConsistency,
    pair_indices,
    temporal_consistency,
    video_consistency,
    warp_indices,
    warp_labels,
)

H, W = 4, 5  # 20 pixels


def _base() -> np.ndarray:
    """Class 1 in the left column (4 pixels), class 0 elsewhere (16 pixels)."""
    labels = np.zeros((H, W), np.uint8)
    labels[:, 0] = 1
    return labels


def _flipped() -> np.ndarray:
    """_base with a 2×2 block of class 0 turned into class 1."""
    labels = _base()
    labels[1:3, 2:4] = 1
    return labels


def test_tc_of_a_constant_sequence_is_100():
    seq = [_base()] * 5
    assert temporal_consistency(seq, num_classes=3) == pytest.approx(100.0)
    identity = [warp_indices(np.zeros((H, W, 2), np.float32))] * 4
    assert temporal_consistency(seq, identity, num_classes=3) == pytest.approx(100.0)


def test_tc_of_one_flipped_region():
    # frames base, flipped, base: two pairs, each with 4 pixels (the 2×2 block) that change class.
    # pair (0, 1): class 0: 16 in P_0, 12 in P_1, I = 12, U = 16; class 1: 4 in P_0, 8 in P_1, I = 4, U = 8
    # pair (1, 2): the same counts with the frames swapped.
    # ΣI / ΣU: class 0 24 / 32 = 0.75, class 1 8 / 16 = 0.5; class 2 never occurs (union 0) and is left out.
    # TC = (0.75 + 0.5) / 2 = 62.5 %; pixel agreement = (16 + 16) / 40 = 80 %.
    seq = [_base(), _flipped(), _base()]
    assert temporal_consistency(seq, num_classes=3) == pytest.approx(62.5)
    tc = TemporalConsistency(num_classes=3)
    for a, b in zip(seq, seq[1:], strict=False):
        tc.add(a, b)
    assert tc.pairs == 2 and tc.score() == pytest.approx(62.5) and tc.agreement() == pytest.approx(80.0)
    assert list(tc.inter) == [24, 8, 0] and list(tc.union) == [32, 16, 0]


def test_tc_without_a_pair_is_none():
    assert temporal_consistency([_base()], num_classes=3) is None
    assert TemporalConsistency(num_classes=3).agreement() is None


def test_warp_brings_the_next_frame_back_along_the_flow():
    """Content moving right by one pixel: P_t(p) = P_{t+1}(p + (1, 0)), so the flow from t to t+1 is (+1, 0);
    the last column reads the clamped border."""
    wide = np.arange(3 * (W + 1), dtype=np.uint8).reshape(3, W + 1) % 7
    p0, p1 = wide[:, 1:], wide[:, :-1]  # p1[:, x + 1] == p0[:, x]
    flow = np.zeros((3, W, 2), np.float32)
    flow[..., 0] = 1.0
    warped = warp_labels(p1, warp_indices(flow))
    assert np.array_equal(warped[:, :-1], p0[:, :-1]) and np.array_equal(warped[:, -1], p1[:, -1])
    flow[..., 0] = 0.6  # rounded to the nearest pixel
    assert np.array_equal(warp_labels(p1, warp_indices(flow)), warped)
    assert temporal_consistency([p0, p1], num_classes=7) < 100.0  # without the flow the shift counts as flicker


def test_dis_flow_points_from_frame_t_into_frame_t_plus_1():
    pytest.importorskip("cv2")
    from clips import texture

    tex = texture(160, 220, seed=3).astype(np.uint8)
    a, b = tex[20:120, 20:180], tex[18:118, 17:177]  # a(p) = b(p + (3, 2))
    (idx,) = list(pair_indices([a, b]))
    h, w = a.shape[:2]  # RGB images: DisFlow takes them to grayscale
    ys, xs = np.divmod(idx, w)
    inner = (slice(10, h - 10), slice(10, w - 10))
    assert np.mean(xs[inner] - np.arange(w)[None, 10:w - 10] == 3) > 0.95
    assert np.mean(ys[inner] - np.arange(h)[10:h - 10, None] == 2) > 0.95


def test_dis_flow_without_opencv_is_one_line(monkeypatch):
    from edgeseg.bench.consistency import DisFlow
    from edgeseg.system.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "cv2", None)  # as where the bench extra is not installed
    with pytest.raises(MissingExtraError) as err:
        DisFlow()
    assert str(err.value) == "temporal consistency (TC: DIS optical flow) needs cv2: pip install 'edgeseg[bench]'"


def _vc_by_definition(preds, truths, n, ignore=255):
    """VC_n written out as defined: every window of n frames, all-equal masks, windows without stable pixels left
    out; the slow reference for the streaming class."""
    scores = []
    for i in range(len(truths) - n + 1):
        t, p = np.stack(truths[i:i + n]), np.stack(preds[i:i + n])
        stable = (t == t[0]).all(0) & (t[0] != ignore)
        if stable.any():
            scores.append((stable & (p == p[0]).all(0)).sum() / stable.sum())
    return 100 * float(np.mean(scores)) if scores else None


def test_vc_of_a_constant_sequence_is_100():
    seq = [_base()] * 16
    assert video_consistency(seq, seq, 8) == pytest.approx(100.0)
    assert video_consistency(seq, seq, 16) == pytest.approx(100.0)
    wrong = [1 - _base()] * 16  # constant but wrong everywhere: VC measures stability, not accuracy
    assert video_consistency(wrong, seq, 8) == pytest.approx(100.0)


def test_vc_of_one_flipped_region():
    # 10 frames, truth constant; the prediction has the 2×2 block flipped in frame 8 only.
    # VC_8 windows start at 0, 1, 2 (10 - 8 + 1 = 3 windows): [0..7] has all 20 stable pixels stable in the
    # prediction (1.0); [1..8] and [2..9] contain frame 8: 16 of 20 (0.8 each).
    # VC_8 = (1.0 + 0.8 + 0.8) / 3 = 86.667 %  (VSPW's script, range(len - n), would average 2 windows: 90 %)
    truths = [_base()] * 10
    preds = [_flipped() if t == 8 else _base() for t in range(10)]
    assert video_consistency(preds, truths, 8) == pytest.approx(260 / 3)
    assert _vc_by_definition(preds, truths, 8) == pytest.approx(260 / 3)


def test_vc_counts_only_ground_truth_stable_pixels():
    # truth: the 2×2 block alternates classes every frame (never stable: 16 stable pixels remain), and the
    # prediction follows it there, flickering, which does not count. In frame 9 the prediction also flips two
    # stable pixels (row 0, columns 3 and 4). VC_8: windows [0..7] and [1..8]: 16 / 16; [2..9]: 14 / 16.
    # VC_8 = (1 + 1 + 0.875) / 3 = 95.833 %
    truths, preds = [], []
    for t in range(10):
        truth = _flipped() if t % 2 else _base()
        pred = truth.copy()
        if t == 9:
            pred[0, 3:] = 1
        truths.append(truth)
        preds.append(pred)
    assert video_consistency(preds, truths, 8) == pytest.approx(100 * 2.875 / 3)
    ignored = [np.where(_base() == 1, 255, t).astype(np.uint8) for t in truths]  # left column: ignore label
    # the 4 ignored pixels were stable and stable in the prediction: now 12 of 12 in two windows, 10 of 12 in one
    assert video_consistency(preds, ignored, 8) == pytest.approx(100 * (2 + 10 / 12) / 3)
    flicker = [_flipped() if t % 2 else _base() for t in range(10)]
    everywhere = [np.full((H, W), t % 2, np.uint8) for t in range(10)]  # no pixel's truth is stable
    assert video_consistency(flicker, everywhere, 8) is None


def test_vc_of_a_sequence_shorter_than_the_window_is_none():
    seq = [_base()] * 10
    vc = VideoConsistency((8, 16))
    for labels in seq:
        vc.add(labels, labels)
    assert vc.scores() == {8: pytest.approx(100.0), 16: None}
    assert video_consistency(seq[:7], seq[:7], 8) is None
    with pytest.raises(ValueError, match="window lengths"):
        VideoConsistency((0,))


def test_streaming_vc_equals_the_definition_on_random_sequences():
    rng = np.random.default_rng(5)
    truth, pred = rng.integers(0, 3, (12, 16)), rng.integers(0, 3, (12, 16))
    truths, preds = [], []
    for _ in range(40):  # each pixel changes with probability 2 % (truth) and 5 % (prediction) per frame
        truth = np.where(rng.random(truth.shape) < 0.02, rng.integers(0, 3, truth.shape), truth)
        pred = np.where(rng.random(pred.shape) < 0.05, rng.integers(0, 3, pred.shape), pred)
        truths.append(truth.astype(np.uint8))
        preds.append(pred.astype(np.uint8))
    vc = VideoConsistency((4, 8, 16))
    for p, t in zip(preds, truths, strict=True):
        vc.add(p, t)
    for n, score in vc.scores().items():
        assert score == pytest.approx(_vc_by_definition(preds, truths, n)) and 0 < score < 100


def test_bench_rows_carry_vc8_and_vc16(tmp_path):
    """On an 18-frame clip: every row has vc8 and vc16 in [0, 100], and frame mode's equal VC_n of the masks
    that `edgeseg run --mode frame --no-guide` writes, computed against the ground truth."""
    from edgeseg.cli import main
    from edgeseg.sink.png import read_png

    clip, report_path = tmp_path / "clip", tmp_path / "r.json"
    res = CliRunner().invoke(main, ["synth", str(clip), "--frames", "18", "--size", "96x128", "--seed", "11"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["bench", str(clip / "video.mp4"), "--labels", str(clip / "labels"), "--modes",
                                    "frame,interp", "--intervals", "4", "--adaptive", "", "--fusion", "linear",
                                    "--guide", "off", "--correct", "0", "--threads", "1", "--json", str(report_path)])
    assert res.exit_code == 0, res.output
    rows = json.loads(report_path.read_text())["rows"]
    assert [r["mode"] for r in rows] == ["frame", "interp"]
    assert all(0 <= r[key] <= 100 for r in rows for key in ("vc8", "vc16"))
    res = CliRunner().invoke(main, ["run", str(clip / "video.mp4"), "--mode", "frame", "--no-guide", "--threads", "1",
                                    "--masks", str(tmp_path / "masks")])
    assert res.exit_code == 0, res.output
    masks = [read_png(p) for p in sorted((tmp_path / "masks").glob("frame-*.png"))]
    truths = [read_png(p) for p in sorted((clip / "labels").glob("frame-*.png"))]
    assert len(masks) == len(truths) == 18
    for n in (8, 16):
        assert rows[0][f"vc{n}"] == pytest.approx(video_consistency(masks, truths, n), abs=1e-3)
