"""Frame thumbnails (one colour per cell) from real decoded frames' YUV planes and from RGB images."""

import av
import clips
import numpy as np
import pytest

from edgeseg.source import open_source
from edgeseg.source.frame import Frame
from edgeseg.source.thumbnail import rgb_thumbnail, yuv420_thumbnail


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.translate_clip(tmp_path_factory.mktemp("thumb") / "t.mp4", size=(320, 192), frames=6)


def test_rgb_thumbnail_is_the_mean_of_each_cell_also_for_uneven_cells():
    image = np.random.default_rng(0).integers(0, 256, (10, 13, 3), dtype=np.uint8)
    out = rgb_thumbnail(image, (3, 4))
    rows, cols = [0, 3, 6, 10], [0, 3, 6, 9, 13]  # floor(i·H/h)
    for i in range(3):
        for j in range(4):
            cell = image[rows[i]:rows[i + 1], cols[j]:cols[j + 1]].reshape(-1, 3).astype(np.float64)
            np.testing.assert_allclose(out[i, j], cell.mean(0), rtol=1e-5)


def test_decoded_frames_thumbnail_from_their_planes_like_their_rgb(clip, jit_mode):
    # The planes' thumbnail (luma means, chroma at cell centres, BT.601) against the mean of the RGB pixels swscale
    # converts, on real frames textured in colour: the luma of every cell within rounding, colours close on average.
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    with open_source(str(clip.path)) as src:
        frames = list(src)
    for frame in frames:
        small = frame.thumbnail(24, 40)
        assert small.shape == (24, 40, 3) and small.dtype == np.float32
        reference = rgb_thumbnail(frame.image, (24, 40))
        assert np.abs(small @ luma - reference @ luma).max() < 2.5, frame.index
        assert np.abs(small - reference).mean() < 6.0, frame.index  # chroma: one sample per cell


def test_compiled_and_numpy_thumbnails_are_identical(clip, numba_kernels, monkeypatch):
    from edgeseg.system import jit as jit_module

    with av.open(str(clip.path)) as container:
        vf = next(container.decode(video=0))
    from edgeseg.source.decode import yuv420_planes

    *planes, full = yuv420_planes(vf)
    compiled = yuv420_thumbnail(*planes, (24, 40), full_range=full)
    monkeypatch.setenv("EDGESEG_NO_JIT", "1")
    jit_module.reset()
    try:
        plain = yuv420_thumbnail(*planes, (24, 40), full_range=full)
    finally:
        monkeypatch.delenv("EDGESEG_NO_JIT")
        jit_module.reset()
    np.testing.assert_array_equal(compiled, plain)


@pytest.mark.parametrize(("full_range", "rgb"), [(False, (200, 40, 90)), (True, (30, 160, 220))])
def test_flat_colour_round_trips_through_yuv(full_range, rgb):
    # A flat colour converted to YUV 4:2:0 by swscale comes back within rounding, in either range.
    image = np.empty((32, 48, 3), np.uint8)
    image[:] = rgb
    fmt = "yuvj420p" if full_range else "yuv420p"
    vf = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=fmt)
    from edgeseg.source.decode import yuv420_planes

    *planes, full = yuv420_planes(vf)
    assert full is full_range
    np.testing.assert_allclose(yuv420_thumbnail(*planes, (4, 6), full_range=full), np.broadcast_to(rgb, (4, 6, 3)),
                               atol=3.0)


def test_frames_without_planes_use_their_image():
    image = np.random.default_rng(2).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    frame = Frame(0, 0.0, "I", image=image)
    np.testing.assert_array_equal(frame.thumbnail(4, 6), rgb_thumbnail(image, (4, 6)))
