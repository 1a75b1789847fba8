"""A keyframe gap's positions along each vector's own reference frame (edgeseg.warp.links) against the true motion,
and the same positions from CuPy arrays."""

from __future__ import annotations

import clips
import numpy as np
import pytest

from edgeseg.motion.dense import MotionFieldBuilder
from edgeseg.motion.grid import FieldResampler
from edgeseg.source import open_source
from edgeseg.warp.bilinear import gap_positions, identity_grid
from edgeseg.warp.links import linked_positions

H, W, h, w = 192, 320, 24, 40  # the warp grid: 8 px cells


def _gaps(clip, k=7):
    """Per gap of k frames: (disps, disp_b, links, a, b) on the warp grid, as the segmenter builds them."""
    with open_source(clip.path) as src:
        pairs = list(MotionFieldBuilder().fields(src))
    to_grid = FieldResampler(video_hw=(H, W), feature_hw=(h, w))
    for a in range(1, len(pairs) - k, k):
        b = a + k
        disps = [to_grid(pairs[t][1])[0] for t in range(a + 1, b)]
        links = [tuple((off, *to_grid(f)) for off, f in pairs[t][1].links) for t in range(a + 1, b)]
        yield disps, to_grid(pairs[b][1])[0], links, a, b


def _error(clip, positions, a, b, t, forward):
    """Mean distance (cells) of frame t's inner cells' positions in keyframe a (forward) or b from the truth."""
    pos = np.cumsum(clip.steps, 0) * np.array([w / W, h / H], np.float32)
    true = -(pos[t] - pos[a]) if forward else pos[b] - pos[t]
    inner = (positions - identity_grid(h, w) - true)[2:-2, 2:-2]
    return float(np.hypot(inner[..., 0], inner[..., 1]).mean())


@pytest.mark.parametrize("bframes", [0, 3])
def test_links_place_a_gap_closer_to_the_true_motion_than_the_frame_to_frame_chain(tmp_path, bframes):
    # motion that changes every frame, 3 references: vectors that span 2+ frames are not even steps
    clip = clips.shaky_clip(tmp_path / "s.mp4", frames=24, bframes=bframes, refs=3)
    grid = identity_grid(h, w)
    chain, linked = [], []
    for disps, disp_b, links, a, b in _gaps(clip):
        assert any(links)
        f0, b0, m = gap_positions(grid, disps, disp_b)
        f1, b1 = linked_positions(grid, disps, disp_b, links, m)
        assert m == len(disps)
        for i, t in enumerate(range(a + 1, b)):
            chain += [_error(clip, f0[i], a, b, t, True), _error(clip, b0[i], a, b, t, False)]
            linked += [_error(clip, f1[i], a, b, t, True), _error(clip, b1[i], a, b, t, False)]
    assert np.mean(linked) < 0.95 * np.mean(chain), (np.mean(linked), np.mean(chain))


def test_without_links_the_positions_are_the_chain():
    rng = np.random.default_rng(4)
    grid = identity_grid(h, w)
    disps = [rng.normal(0, 0.3, (h, w, 2)).astype(np.float32) for _ in range(5)]
    disp_b = rng.normal(0, 0.3, (h, w, 2)).astype(np.float32)
    f0, b0, m = gap_positions(grid, disps, disp_b)
    f1, b1 = linked_positions(grid, disps, disp_b, [()] * 5, m)
    np.testing.assert_allclose(f1, f0, atol=1e-4)
    np.testing.assert_allclose(b1, b0, atol=1e-4)


@pytest.mark.gpu
def test_cupy_arrays_give_the_numpy_positions(tmp_path):
    cp = pytest.importorskip("cupy")
    clip = clips.shaky_clip(tmp_path / "s.mp4", frames=16, bframes=3, refs=3)
    grid = identity_grid(h, w)
    disps, disp_b, links, _, _ = next(_gaps(clip))
    m = len(disps)
    want = linked_positions(grid, disps, disp_b, links, m)
    dev = lambda a: cp.asarray(a)  # noqa: E731
    got = linked_positions(dev(grid), [dev(d) for d in disps], dev(disp_b),
                           [tuple((off, dev(d), dev(v)) for off, d, v in frame) for frame in links], m)
    for g, w_ in zip(got, want, strict=True):
        assert isinstance(g, cp.ndarray)
        np.testing.assert_allclose(g.get(), w_, atol=1e-3)


def test_compiled_kernel_equals_the_array_path(tmp_path, numba_kernels):
    from edgeseg.warp import links

    kernel = links.with_simd(links._linked_into)
    assert kernel is not None
    clip = clips.shaky_clip(tmp_path / "s.mp4", frames=16, bframes=3, refs=3)
    grid = identity_grid(h, w)
    for disps, disp_b, frame_links, _, _ in _gaps(clip):
        m = len(disps) - 2  # a backward chain that stops short of the gap's start
        got = links._linked_compiled(kernel, grid, disps, disp_b, frame_links, m)
        want = links.linked_positions(grid, disps, disp_b, frame_links, m, compiled=False)
        for g, w_ in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w_)
