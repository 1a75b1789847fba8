"""Raw vectors: FFmpeg's semantics on real encoded clips (H.264 and MPEG-4 Part 2)."""

import clips
import numpy as np
import pytest

from edgeseg.source import MV_COLUMNS, open_source
from edgeseg.source.vectors import vectors_from_side_data


@pytest.fixture(scope="module")
def bclip(tmp_path_factory):
    path = tmp_path_factory.mktemp("v") / "b.mp4"
    return clips.translate_clip(path, size=(320, 192), frames=10, shift_xy=(1.5, -0.75), bframes=2)


def _frames(path, **kw):
    with open_source(path, **kw) as src:
        return list(src)


def test_column_order_and_dtype_follow_ffmpeg():
    names = ["source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "flags", "motion_x", "motion_y", "motion_scale"]
    rec = np.zeros(2, dtype=[(n, "<u8" if n == "flags" else "<i4") for n in names])
    for j, n in enumerate(names):
        rec[n] = [j + 1, j + 101]
    out = vectors_from_side_data(rec)
    assert out.dtype == np.int32 and out.shape == (2, 10)
    assert out[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 9, 10, 11]  # flags (8) dropped
    assert out[1, 7] == 109
    assert list(MV_COLUMNS) == [n for n in names if n != "flags"]


def test_h264_semantics(bclip):
    frames = _frames(bclip.path)
    assert frames[0].pict_type == "I" and frames[0].mvs.shape == (0, 10)
    seen = set()
    for f in frames[1:]:
        m = f.mvs
        assert m.dtype == np.int32 and m.shape[1] == 10 and len(m)
        assert set(np.unique(m[:, 0])) <= {-1, 1}  # direction, not distance
        assert set(np.unique(m[:, 1])) <= {8, 16} and set(np.unique(m[:, 2])) <= {8, 16}
        assert (m[:, 9] == 4).all()  # quarter-pel
        # src = dst + motion / motion_scale; the integer src columns hold it truncated toward zero (C division)
        assert (m[:, 3] == m[:, 5] + np.trunc(m[:, 7] / m[:, 9]).astype(int)).all()
        assert (m[:, 4] == m[:, 6] + np.trunc(m[:, 8] / m[:, 9]).astype(int)).all()
        seen.add((f.pict_type, tuple(np.unique(m[:, 0]))))
    assert ("P", (-1,)) in seen  # P-frames only look back
    bi = [f for f in frames if f.pict_type == "B"]
    assert any((f.mvs[:, 0] == 1).any() for f in bi)
    # a bi-predicted block gives two records at the same position, one per direction
    f = max(bi, key=lambda f: len(f.mvs))
    keys = {}
    for row in f.mvs:
        keys.setdefault((row[1], row[2], row[5], row[6]), set()).add(int(row[0]))
    assert any(v == {-1, 1} for v in keys.values())


def test_true_motion_shows_in_p_vectors(bclip):
    p = next(f for f in _frames(bclip.path) if f.pict_type == "P")
    m = p.mvs[p.mvs[:, 0] == -1]
    dist = p.index  # the P's reference is the I-frame at 0
    assert np.median(m[:, 7] / m[:, 9]) == pytest.approx(-1.5 * dist, abs=0.3)
    assert np.median(m[:, 8] / m[:, 9]) == pytest.approx(0.75 * dist, abs=0.3)


def test_vectors_are_deterministic_and_never_missing(bclip):
    # regression: with frame threading FFmpeg dropped the side data of random B-frames
    runs = [[f.mvs for f in _frames(bclip.path)] for _ in range(3)]
    for a, b in zip(runs[0], runs[1], strict=True):
        assert np.array_equal(a, b)
    assert all(len(m) for m in runs[2][1:])


def test_export_off_gives_none(bclip):
    assert all(f.mvs is None for f in _frames(bclip.path, export_mvs=False))


def test_mpeg4_part2_vectors(tmp_path):
    clip = clips.translate_clip(tmp_path / "src.mp4", size=(160, 96), frames=6, shift_xy=(2.0, 1.0))
    path = clips.encode_with(tmp_path / "m4.avi", clip.images, codec="mpeg4", options={"qscale": "2"})
    frames = _frames(path)
    assert frames[0].pict_type == "I" and all(f.pict_type == "P" for f in frames[1:])
    m = frames[2].mvs
    assert (m[:, 9] == 2).all() and (m[:, 0] == -1).all()  # half-pel, past
    assert np.median(m[:, 7] / m[:, 9]) == -2.0 and np.median(m[:, 8] / m[:, 9]) == -1.0
