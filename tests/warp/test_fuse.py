"""interp's photometric fusion weights, match errors and the in-place mix (compiled kernels and NumPy paths)."""

import numpy as np
import pytest

from edgeseg.warp.bilinear import identity_grid, warp, warp_blend
from edgeseg.warp.fuse import match_error, mix, photometric_weights


def test_equal_errors_give_the_linear_weights():
    wb = np.array([0.25, 0.5, 0.75], np.float32)
    err = np.random.default_rng(0).uniform(0, 300, (3, 4, 5)).astype(np.float32)
    out = photometric_weights(wb, err, err.copy())
    np.testing.assert_allclose(out, np.broadcast_to(wb[:, None, None], (3, 4, 5)), rtol=1e-6)


def test_the_keyframe_that_matches_worse_loses_weight():
    wb = np.array([0.5], np.float32)
    err_a = np.array([[[0.0, 10.0, 100.0, 400.0]]], np.float32)
    err_b = np.full_like(err_a, 10.0)
    out = photometric_weights(wb, err_a, err_b, scale=16.0)[0, 0]
    assert out[0] < 0.5 and out[1] == pytest.approx(0.5) and 0.99 < out[2] < out[3] <= 1.0
    # the odds follow the contract: (wb / wa) · exp((err_a − err_b) / scale)
    np.testing.assert_allclose(out[:3] / (1 - out[:3]), np.exp((err_a[0, 0, :3] - 10.0) / 16.0), rtol=1e-4)


def test_a_keyframe_that_does_not_reach_keeps_weight_zero():
    err = np.zeros((2, 3, 3), np.float32)
    out = photometric_weights(np.array([0.0, 0.5], np.float32), err, err + 500)
    assert (out[0] == 0).all() and (out[1] > 0).all()


@pytest.mark.parametrize("size", [(6, 9), (1, 7), (5, 1)])
def test_match_error_is_the_l1_distance_of_the_warped_thumbnail(jit_mode, size):
    rng = np.random.default_rng(3)
    h, w = size
    key = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    pos = (identity_grid(h, w) + rng.normal(0, 1.5, (4, h, w, 2))).astype(np.float32)
    thumbs = rng.uniform(0, 255, (4, h, w, 3)).astype(np.float32)
    expected = np.stack([np.abs(warp(key, p) - t).sum(-1) for p, t in zip(pos, thumbs, strict=True)])
    np.testing.assert_allclose(match_error(key, pos, thumbs), expected, rtol=1e-5, atol=1e-3)
    # a frame that is the keyframe moved along the positions matches it exactly
    moved = warp_blend([(key, pos, np.ones(4, np.float32))])
    assert np.abs(match_error(key, pos, moved)).max() < 1e-3


def test_mix_blends_in_place(jit_mode):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 3, 5, 4, 8)).astype(np.float32)
    weight = rng.uniform(0, 1, (3, 5, 4)).astype(np.float32)
    expected = (1 - weight[..., None]) * a + weight[..., None] * b
    out = mix(a, b, weight)
    assert out is a
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
def test_cupy_arrays_give_the_numpy_results():
    cp = pytest.importorskip("cupy")
    rng = np.random.default_rng(5)
    h, w = 9, 12
    key = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    pos = (identity_grid(h, w) + rng.normal(0, 1.5, (3, h, w, 2))).astype(np.float32)
    thumbs = rng.uniform(0, 255, (3, h, w, 3)).astype(np.float32)
    err = match_error(key, pos, thumbs)
    err_gpu = match_error(cp.asarray(key), cp.asarray(pos), cp.asarray(thumbs))
    assert isinstance(err_gpu, cp.ndarray)
    np.testing.assert_allclose(err_gpu.get(), err, rtol=1e-4, atol=1e-2)
    wb = np.array([0.25, 0.5, 0.75], np.float32)
    weights = photometric_weights(wb, err, err[::-1].copy())
    weights_gpu = photometric_weights(wb, err_gpu, err_gpu[::-1].copy())
    np.testing.assert_allclose(weights_gpu.get(), weights, rtol=1e-4, atol=1e-6)
    a, b = rng.normal(size=(2, 3, h, w, 8)).astype(np.float32)
    mixed_gpu = mix(cp.asarray(a), cp.asarray(b), weights_gpu)
    np.testing.assert_allclose(mixed_gpu.get(), mix(a.copy(), b, weights), rtol=1e-4, atol=1e-5)
