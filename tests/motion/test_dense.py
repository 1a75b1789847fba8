"""Dense fields: exact on crafted vectors, and measured against true motion on encoded clips."""

import clips
import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.motion.dense import MotionFieldBuilder, dense_field
from edgeseg.source import Frame, open_source


def _mv(source, w, h, dst_x, dst_y, mx, my, scale=4):
    return [source, w, h, dst_x + mx // scale, dst_y + my // scale, dst_x, dst_y, mx, my, scale]


def test_one_block_gives_one_valid_cell_rest_invalid():
    mvs = np.array([_mv(-1, 16, 16, 24, 8, 6, -2)], np.int32)  # block x 16..32, y 0..16
    f = dense_field(mvs, height=48, width=64, stride=16)
    assert f.shape == (3, 4)
    assert f.valid.sum() == 1 and f.valid[0, 1]
    assert (f.dx[0, 1], f.dy[0, 1]) == (1.5, -0.5)
    assert not f.dx[~f.valid].any()


def test_8x8_blocks_average_at_stride_16_and_stay_separate_at_8():
    mvs = np.array([_mv(-1, 8, 8, 4, 4, 4, 0), _mv(-1, 8, 8, 12, 4, 12, 0)], np.int32)
    f16 = dense_field(mvs, height=16, width=16, stride=16)
    assert f16.valid[0, 0] and f16.dx[0, 0] == 2.0  # mean of 1 and 3 over the two covered units
    f8 = dense_field(mvs, height=16, width=16, stride=8)
    assert f8.dx[0].tolist() == [1.0, 3.0] and f8.valid.tolist() == [[True, True], [False, False]]


def test_bi_prediction_and_distances():
    # past vector +4 px over 2 frames → 2 px/frame; future vector -6 px over 3 frames → 2 px/frame
    mvs = np.array([_mv(-1, 16, 16, 8, 8, 16, 0), _mv(1, 16, 16, 8, 8, -24, 0)], np.int32)
    f = dense_field(mvs, height=16, width=16, past_distance=2, future_distance=3)
    assert f.dx[0, 0] == pytest.approx(2.0)


def test_stride_32_and_odd_frame_size_shapes():
    mvs = np.array([_mv(-1, 16, 16, 8 + 16 * c, 8 + 16 * r, 4, 4) for r in range(23) for c in range(41)], np.int32)
    f = dense_field(mvs, height=361, width=641, stride=32)
    assert f.shape == (12, 21) and f.valid.all() and np.allclose(f.dx, 1.0)
    assert dense_field(mvs, height=361, width=641, stride=4).shape == (91, 161)
    for bad in (12, 24):  # 24: a multiple of 8 that no whole number of macroblocks makes (was pooled as 16)
        with pytest.raises(ConfigError, match=f"motion stride {bad}: must be one of"):
            dense_field(mvs, height=361, width=641, stride=bad)


def _pairs(path, **kw):
    with open_source(path) as src:
        return list(MotionFieldBuilder(**kw).fields(src))


@pytest.mark.parametrize(("bframes", "refs", "limit"), [(0, 1, 0.25), (0, 4, 0.25), (3, 1, 0.25), (3, 4, 0.25)])
def test_translation_error_against_truth(tmp_path, bframes, refs, limit):
    clip = clips.translate_clip(tmp_path / "t.mp4", size=(642, 362), frames=12, shift_xy=(1.5, -0.75),
                                bframes=bframes, refs=refs)
    pairs = _pairs(clip.path)
    assert [f.index for f, _ in pairs] == list(range(12))  # every frame, display order
    assert ("B" in "".join(f.pict_type for f, _ in pairs)) == (bframes > 0)
    err, valid = clips.field_error(clip, pairs)
    assert err < limit and valid > 0.9


def test_multi_reference_rule_beats_nearest_anchor_assumption(tmp_path):
    clip = clips.translate_clip(tmp_path / "r.mp4", size=(320, 192), frames=12, shift_xy=(1.5, -0.75), refs=4)
    nearest, _ = clips.field_error(clip, _pairs(clip.path, max_refs=1))
    rule, _ = clips.field_error(clip, _pairs(clip.path))
    assert rule < 0.25 < nearest
    with open_source(clip.path) as src:
        frames = list(src)  # a plain list: the SPS reference count travels in frame.meta
    assert frames[0].meta["max_refs"] == 4
    assert clips.field_error(clip, MotionFieldBuilder().fields(frames))[0] < 0.25


@pytest.mark.parametrize(("bframes", "limit"), [(0, 0.2), (2, 0.35)])
def test_moving_object_on_static_background(tmp_path, bframes, limit):
    clip = clips.object_clip(tmp_path / "o.mp4", size=(320, 192), frames=12, bframes=bframes)
    pairs = _pairs(clip.path)
    err, valid = clips.field_error(clip, pairs)
    assert err < 0.2 and valid > 0.9
    obj_err = []
    for frame, fld in pairs[1:]:
        dx, dy, known = clip.truth(frame.index)
        moving = known & (dx != 0) & fld.valid
        assert moving.sum() >= 10
        obj_err.append(np.hypot(fld.dx - dx, fld.dy - dy)[moving])
    obj_err = np.concatenate(obj_err).mean()
    print(f"object cells: mean error {obj_err:.3f} px")
    assert obj_err < limit


@pytest.mark.parametrize("stride", [8, 32])
def test_other_strides(tmp_path, stride):
    clip = clips.translate_clip(tmp_path / "s.mp4", size=(320, 192), frames=8, shift_xy=(-2.5, 1.25))
    pairs = _pairs(clip.path, stride=stride)
    assert pairs[3][1].shape == (-(-192 // stride), -(-320 // stride))
    err, valid = clips.field_error(clip, pairs, stride=stride)
    assert err < 0.3 and valid > 0.9


def test_i_frames_first_frame_and_gaps_are_invalid(tmp_path):
    clip = clips.translate_clip(tmp_path / "g.mp4", size=(128, 96), frames=10, gop=5)
    with open_source(clip.path) as src:
        frames = list(src)
    del frames[7]  # a lost frame: the next one has no motion to its (missing) predecessor
    out = list(MotionFieldBuilder().fields(frames))
    by_index = {f.index: (f.pict_type, fld) for f, fld in out}
    assert by_index[0][1].valid_fraction == 0 and by_index[5][0] == "I" and by_index[5][1].valid_fraction == 0
    assert by_index[8][1].valid_fraction == 0
    assert by_index[3][1].valid_fraction > 0.5 and by_index[9][1].valid_fraction > 0.5


def test_intra_coded_content_is_invalid_not_zero(tmp_path):
    rng = np.random.default_rng(1)
    a = clips.texture(96, 128, seed=3).astype(np.uint8)
    b = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)  # unrelated content: x264 codes it intra
    path = tmp_path / "cut.mp4"
    from edgeseg.sink.video import VideoWriter

    with VideoWriter(path, fps=25, width=128, height=96, bframes=0, options={"x264-params": "scenecut=0"}) as w:
        for img in (a, a, b):
            w.write(img)
    (_, f1), (_, f2) = _pairs(path)[1:]
    assert f1.valid_fraction > 0.9
    assert f2.valid_fraction < 0.5


def test_frames_without_vectors_use_the_estimator(tmp_path):
    clip = clips.translate_clip(tmp_path / "e.mp4", size=(320, 192), frames=8, shift_xy=(1.5, -0.75))
    with open_source(clip.path, export_mvs=False) as src:
        frames = list(src)
    assert all(f.mvs is None for f in frames)
    err, valid = clips.field_error(clip, MotionFieldBuilder().fields(frames))
    assert err < 0.35 and valid > 0.9
    none = list(MotionFieldBuilder(fallback=None).fields(frames))
    assert all(fld.valid_fraction == 0 for _, fld in none)


def test_b_frames_wait_for_their_anchor_but_keep_order(tmp_path):
    clip = clips.translate_clip(tmp_path / "b.mp4", size=(128, 96), frames=9, bframes=3)
    with open_source(clip.path) as src:
        frames = list(src)
    seen = []

    def feed():
        for f in frames:
            seen.append(f.index)
            yield f

    for frame, _ in MotionFieldBuilder().fields(feed()):
        lag = seen[-1] - frame.index
        assert lag <= 3  # at most the B-run length
    assert seen == list(range(9))


def test_frame_with_empty_vectors_on_p_is_all_invalid():
    img = np.zeros((32, 32, 3), np.uint8)
    frames = [Frame(0, 0.0, "I", img, np.zeros((0, 10), np.int32)), Frame(1, 0.04, "P", img, np.zeros((0, 10), np.int32))]
    out = list(MotionFieldBuilder().fields(frames))
    assert out[1][1].shape == (2, 2) and not out[1][1].valid.any()


def test_compiled_distance_pick_equals_the_array_path(numba_kernels):
    from edgeseg.motion.field import MotionField
    from edgeseg.motion.prior import _pick_into, _pick_numpy, pick_distances
    from edgeseg.system.jit import compiled

    assert compiled(_pick_into) is not None  # with numba installed, the builder runs the kernel
    rng = np.random.default_rng(11)
    prior = MotionField.empty(96, 160, 16)
    prior.dx[:], prior.dy[:] = rng.normal(scale=3, size=(2, *prior.shape)).astype(np.float32)
    prior.valid[:] = rng.random(prior.shape) > 0.2
    mvs = np.array([_mv(int(rng.choice([-1, 1])), 16, 16, 8 + 16 * c, 8 + 16 * r, *rng.integers(-40, 40, 2),
                        scale=int(rng.choice([1, 2, 4])))
                     for r in range(6) for c in range(10) for _ in range(3)], np.int32)
    dist = rng.choice([1.0, 2.0, 3.0], size=len(mvs))
    for direction in (-1, 1):
        want = _pick_numpy(mvs, dist, 4, prior, direction)
        np.testing.assert_array_equal(pick_distances(mvs, dist, 4, prior, direction), want)
        assert (want != dist).any()  # the case exercises the pick


def test_compiled_macroblock_cells_equal_the_array_path(numba_kernels):
    from edgeseg.motion.cells import _macroblock_cells_into, _macroblock_cells_numpy, macroblock_cells
    from edgeseg.system.jit import compiled

    assert compiled(_macroblock_cells_into) is not None  # with numba installed, dense_field runs the kernel
    rng = np.random.default_rng(12)
    sizes = [(16, 16), (16, 8), (8, 16), (8, 8)]
    mvs = []
    for _ in range(400):  # blocks of every H.264 size, some partly or wholly outside the frame
        bw, bh = sizes[rng.integers(len(sizes))]
        x, y = int(rng.integers(-2, 12)) * 8 + bw // 2, int(rng.integers(-2, 8)) * 8 + bh // 2
        mvs.append(_mv(int(rng.choice([-1, 1])), bw, bh, x, y, *rng.integers(-40, 40, 2),
                       scale=int(rng.choice([1, 2, 4]))))
    mvs = np.array(mvs, np.int32)
    dist = rng.choice([1.0, 2.0, 3.0], size=len(mvs))
    want = _macroblock_cells_numpy(mvs, dist, 5, 6)
    got = macroblock_cells(mvs, dist, 5, 6)
    assert want[2].sum() > 20 and not want[2].all()  # covered and uncovered macroblocks
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
