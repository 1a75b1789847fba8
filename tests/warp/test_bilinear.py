import numpy as np

from edgeseg.warp.bilinear import identity_grid, warp, warp_blend


def test_identity_warp_is_exact():
    src = np.random.default_rng(0).normal(size=(7, 9, 5)).astype(np.float32)
    np.testing.assert_allclose(warp(src, identity_grid(7, 9)), src, rtol=0, atol=1e-6)


def test_integer_shift_moves_content():
    src = np.random.default_rng(1).normal(size=(6, 8, 3)).astype(np.float32)
    pos = identity_grid(6, 8) + np.array([2, 1], np.float32)  # sample 2 right, 1 down
    out = warp(src, pos)
    np.testing.assert_allclose(out[:5, :6], src[1:6, 2:8], atol=1e-6)
    np.testing.assert_allclose(out[5, :6], src[5, 2:8], atol=1e-6)  # clamped at the bottom border


def test_half_cell_shift_is_bilinear():
    src = np.arange(4 * 4, dtype=np.float32).reshape(4, 4, 1)
    out = warp(src, identity_grid(4, 4) + np.array([0.5, 0.25], np.float32))
    assert np.isclose(out[0, 0, 0], 0 * 0.75 + 4 * 0.25 + 0.5)


def test_blend_weights():
    a = np.ones((3, 3, 2), np.float32)
    b = np.full((3, 3, 2), 3.0, np.float32)
    g = identity_grid(3, 3)
    np.testing.assert_allclose(warp_blend([(a, g, 0.25), (b, g, 0.75)]), 2.5)


def test_batched_blend_equals_one_blend_per_map():
    rng = np.random.default_rng(2)
    a, b = (rng.normal(size=(5, 6, 4)).astype(np.float32) for _ in range(2))
    pa = identity_grid(5, 6) + rng.uniform(-1.5, 1.5, size=(3, 5, 6, 2)).astype(np.float32)
    pb = identity_grid(5, 6) + rng.uniform(-1.5, 1.5, size=(3, 5, 6, 2)).astype(np.float32)
    wb = np.array([0.25, 0.0, 0.75], np.float32)  # a zero weight leaves that map to chain a alone
    out = warp_blend([(a, pa, 1 - wb), (b, pb, wb)])
    assert out.shape == (3, 5, 6, 4)
    for i in range(3):
        one = warp_blend([(a, pa[i], 1 - wb[i])] + ([(b, pb[i], wb[i])] if wb[i] else []))
        np.testing.assert_allclose(out[i], one, atol=1e-6)
