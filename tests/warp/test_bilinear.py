import numpy as np
import pytest

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


@pytest.mark.parametrize("channels", [3, 8, 13, 16, 21])  # remainder only, vector only, both; 21: VOC's classes
def test_compiled_blend_equals_the_array_path(numba_kernels, channels):
    from edgeseg.warp.bilinear import _blend_arrays, _blend_kernel

    assert _blend_kernel() is not None  # with numba installed, warp_blend runs the compiled kernel
    rng = np.random.default_rng(4)
    a, b = (rng.normal(size=(7, 9, channels)).astype(np.float32) for _ in range(2))
    pa = identity_grid(7, 9) + rng.uniform(-3, 3, size=(4, 7, 9, 2)).astype(np.float32)  # some clamp at borders
    pb = identity_grid(7, 9) + rng.uniform(-3, 3, size=(4, 7, 9, 2)).astype(np.float32)
    wb = np.array([0.1, 0.0, 0.5, 0.9], np.float32)
    for parts in ([(a, pa, 1 - wb), (b, pb, wb)], [(a, pa[0], 0.3), (b, pb[0], 0.7)], [(a[:1, :1], pa[0], 1.0)]):
        np.testing.assert_allclose(warp_blend(parts), _blend_arrays(parts), rtol=1e-5, atol=1e-5)


def test_vector_taps_equal_the_plain_definitions(numba_kernels):
    """taps8's and taps2's LLVM vector forms (edgeseg.warp.simd) give exactly the plain-Python float32 results."""
    import numba

    from edgeseg.warp.bilinear import _blend_kernel, taps2, taps8

    _blend_kernel()  # registers the vector forms

    @numba.njit
    def step8(out, oi, src, b, dx, dy, w, accumulate):
        taps8(out, np.uintp(oi), src, np.uintp(b), np.uintp(dx), np.uintp(dy), w[0], w[1], w[2], w[3], accumulate)

    @numba.njit
    def step2(out, oi, src, b, dy, w):
        taps2(out, np.uintp(oi), src, np.uintp(b), np.uintp(dy), w[0], w[1], w[2], w[3])

    rng = np.random.default_rng(9)
    src = rng.normal(size=64).astype(np.float32)
    w = rng.uniform(0, 1, size=4).astype(np.float32)
    for accumulate in (False, True):
        want = rng.normal(size=24).astype(np.float32)
        got = want.copy()
        taps8(want, 5, src, 3, 8, 40, w[0], w[1], w[2], w[3], accumulate)  # the plain definition, in Python
        step8(got, 5, src, 3, 8, 40, w, accumulate)
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got[5:13], src[3:11])  # the step wrote something other than a plain copy
    want = np.zeros(6, np.float32)
    got = want.copy()
    taps2(want, 3, src, 7, 20, w[0], w[1], w[2], w[3])
    step2(got, 3, src, 7, 20, w)
    np.testing.assert_array_equal(got, want)
    assert got[3] != 0 and got[4] != 0 and not got[[0, 1, 2, 5]].any()  # exactly two values written


def test_vector_groups_equal_the_plain_definitions(numba_kernels):
    """samples8 and steps8 (eight points with vector weights) give exactly the plain-Python results, including
    points clamped at the borders."""
    import numba

    from edgeseg.warp.bilinear import _blend_kernel, samples8, steps8

    _blend_kernel()
    h, w = 5, 7
    xm, ym = np.uintp(w - 2), np.uintp(h - 2)
    xmax, ymax = np.float32(w - 1), np.float32(h - 1)

    @numba.njit
    def blend(out, src, pos, i, a, accumulate):
        samples8(out, src, pos, np.uintp(i), a, xmax, ymax, xm, ym, np.uintp(w), accumulate)

    @numba.njit
    def chain(out, prev, grid, d, p, sign):
        steps8(out, prev, grid, d, np.uintp(p), sign, xmax, ymax, xm, ym, np.uintp(w))

    rng = np.random.default_rng(10)
    src = rng.normal(size=h * w * 8).astype(np.float32)
    pos = rng.uniform(-2, 9, size=2 * 16).astype(np.float32)  # a third of the points lie outside the map
    a = np.float32(0.7)
    for accumulate in (False, True):
        want = rng.normal(size=16 * 8).astype(np.float32)
        got = want.copy()
        samples8(want, src, pos, np.uintp(8), a, xmax, ymax, xm, ym, np.uintp(w), accumulate)
        blend(got, src, pos, 8, a, accumulate)
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got[64:], want[:64])
    grid = identity_grid(h, w).reshape(-1)
    prev = rng.uniform(0, 6, size=h * w * 2).astype(np.float32)
    d = rng.uniform(-3, 3, size=h * w * 2).astype(np.float32)
    for sign in (np.float32(1.0), np.float32(-1.0)):
        want = np.zeros(h * w * 2, np.float32)
        got = want.copy()
        steps8(want, prev, grid, d, np.uintp(16), sign, xmax, ymax, xm, ym, np.uintp(w))
        chain(got, prev, grid, d, 16, sign)
        np.testing.assert_array_equal(got, want)
        assert want[32:48].all() and not want[:32].any() and not want[48:].any()  # exactly cells 16-23


@pytest.mark.parametrize("size", [(6, 8), (5, 7)])  # whole groups of eight cells; a remainder of three
def test_gap_positions_compose_fields_like_repeated_warps(jit_mode, size):
    from edgeseg.warp.bilinear import gap_positions

    rng = np.random.default_rng(6)
    h, w = size
    g = identity_grid(h, w)
    fields = [rng.uniform(-2, 2, size=(h, w, 2)).astype(np.float32) for _ in range(5)]
    fields[2] = None  # frame 2 has no motion to frame 1: it keeps frame 1's positions in a; b reaches 2, 3, 4
    field_b = rng.uniform(-2, 2, size=(h, w, 2)).astype(np.float32)
    forward, back, m = gap_positions(g, fields, field_b)
    p, want = g, []
    for d in fields:
        if d is not None:
            p = warp(p, g + d)
        want.append(p)
    q, want_back = g, {}
    for i, d in zip((4, 3, 2), (field_b, fields[4], fields[3]), strict=True):
        q = warp(q, g - d)
        want_back[i] = q
    assert forward.shape == back.shape == (5, h, w, 2) and m == 3
    for a, b in zip(forward, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(forward[2], forward[1])
    for i in (2, 3, 4):
        np.testing.assert_allclose(back[i], want_back[i], atol=1e-5)
    np.testing.assert_array_equal(back[:2], np.stack([g, g]))  # b does not reach frames before the cut
    _, back_none, m_none = gap_positions(g, fields, None)  # keyframe b without motion: a alone everywhere
    assert m_none == 0 and (back_none == g).all()
    assert gap_positions(g, [], field_b)[2] == 0


def test_blend_part_by_part_equals_the_whole_blend(jit_mode):
    rng = np.random.default_rng(3)
    a, b = (rng.normal(size=(6, 7, 4)).astype(np.float32) for _ in range(2))
    pa, pb = (rng.uniform(-1, 8, size=(3, 6, 7, 2)).astype(np.float32) for _ in range(2))
    wb = np.array([0.25, 0.5, 0.75], np.float32)
    whole = warp_blend([(a, pa, 1 - wb), (b, pb, wb)])
    first = warp_blend([(a, pa, 1 - wb)])
    got = warp_blend([(b, pb, wb)], add_to=first)
    assert got is first  # accumulated in place
    np.testing.assert_allclose(got, whole, atol=1e-6)
