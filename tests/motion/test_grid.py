import numpy as np

from edgeseg.motion.field import MotionField
from edgeseg.motion.grid import FieldResampler, fill_invalid


def test_fill_invalid_takes_neighbour_motion():
    dx = np.full((5, 5), 4.0, np.float32)
    dy = np.full((5, 5), -2.0, np.float32)
    valid = np.ones((5, 5), bool)
    valid[1:4, 1:4] = False
    dx[~valid] = dy[~valid] = 0
    fx, fy = fill_invalid(dx, dy, valid)
    assert np.allclose(fx, 4.0) and np.allclose(fy, -2.0)


def test_fill_invalid_keeps_valid_cells_and_limits_rounds():
    dx = np.zeros((1, 12), np.float32)
    dx[0, 0] = 8.0
    valid = np.zeros((1, 12), bool)
    valid[0, 0] = True
    fx, _ = fill_invalid(dx, np.zeros_like(dx), valid, rounds=3)
    assert fx[0, 0] == 8.0 and np.allclose(fx[0, 1:4], 8.0) and np.allclose(fx[0, 4:], 0.0)


def test_resampler_scales_pixels_to_cells():
    # 64×128 video, stride-16 field, feature map 8×16 (stride 8): 16 px = 2 cells.
    f = MotionField.empty(64, 128, 16)
    f.dx[:] = 16.0
    f.dy[:] = -8.0
    f.valid[:] = True
    disp, valid = FieldResampler(video_hw=(64, 128), feature_hw=(8, 16))(f)
    assert disp.shape == (8, 16, 2) and valid.all()
    assert np.allclose(disp[..., 0], 2.0) and np.allclose(disp[..., 1], -1.0)


def _fill_by_hand(dx, dy, valid, rounds):
    """The contract cell by cell: each round, an unknown cell with known 8-neighbours takes their mean."""
    dx, dy, known = dx.astype(float), dy.astype(float), valid.copy()
    h, w = known.shape
    for _ in range(rounds):
        new = {}
        for i in range(h):
            for j in range(w):
                if known[i, j]:
                    continue
                nb = [(a, b) for a in range(i - 1, i + 2) for b in range(j - 1, j + 2)
                      if 0 <= a < h and 0 <= b < w and (a, b) != (i, j) and known[a, b]]
                if nb:
                    new[i, j] = (np.mean([dx[c] for c in nb]), np.mean([dy[c] for c in nb]))
        for c, (x, y) in new.items():
            dx[c], dy[c], known[c] = x, y, True
    return dx, dy


def test_fill_invalid_matches_the_cell_by_cell_contract():
    rng = np.random.default_rng(5)
    dx, dy = (rng.normal(scale=4, size=(9, 13)).astype(np.float32) for _ in range(2))
    valid = rng.random((9, 13)) > 0.6  # many holes, some several cells deep
    for rounds in (1, 2, 4):
        fx, fy = fill_invalid(dx, dy, valid, rounds=rounds)
        ex, ey = _fill_by_hand(dx, dy, valid, rounds)
        np.testing.assert_allclose(fx, ex, atol=1e-5)
        np.testing.assert_allclose(fy, ey, atol=1e-5)
        assert (fx[valid] == dx[valid]).all()


def test_compiled_fill_equals_the_array_path(monkeypatch, numba_kernels):
    from edgeseg.motion import grid
    from edgeseg.system.jit import compiled

    assert compiled(grid._fill_into) is not None  # with numba installed, fill_invalid runs the kernel
    rng = np.random.default_rng(6)
    dx, dy = (rng.normal(scale=4, size=(23, 30)).astype(np.float32) for _ in range(2))
    valid = rng.random((23, 30)) > 0.7
    got = [fill_invalid(dx, dy, valid, rounds=r) for r in (1, 2, 4)]
    monkeypatch.setattr(grid, "compiled", lambda fn: None)  # the NumPy path
    for r, (gx, gy) in zip((1, 2, 4), got, strict=True):
        wx, wy = fill_invalid(dx, dy, valid, rounds=r)
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)


def test_compiled_resampler_equals_the_array_path(monkeypatch, numba_kernels):
    from edgeseg.motion import grid
    from edgeseg.system.jit import compiled

    assert compiled(grid._resample_into) is not None
    rng = np.random.default_rng(7)
    f = MotionField.empty(360, 480, 16)
    f.dx[:], f.dy[:] = rng.normal(scale=5, size=(2, *f.shape)).astype(np.float32)
    f.valid[:] = rng.random(f.shape) > 0.2
    to_grid = FieldResampler(video_hw=(360, 480), feature_hw=(23, 30))
    disp, valid = to_grid(f)
    monkeypatch.setattr(grid, "compiled", lambda fn: None)
    want_disp, want_valid = to_grid(f)
    np.testing.assert_array_equal(disp, want_disp)
    np.testing.assert_array_equal(valid, want_valid)
    assert valid.any() and not valid.all()
