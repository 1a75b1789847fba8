"""LabelUpsampler must equal bilinear upsampling (PyTorch's) followed by argmax."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from edgeseg.pipeline.labels import LabelUpsampler  # noqa: E402


def _reference(scores: np.ndarray, hw, align_corners: bool = False) -> np.ndarray:
    up = F.interpolate(torch.from_numpy(scores)[None], size=hw, mode="bilinear", align_corners=align_corners)
    return up[0].argmax(0).numpy()


@pytest.mark.parametrize("src,dst", [((23, 30), (360, 480)), ((23, 30), (272, 640)), ((5, 7), (64, 96)),
                                     ((12, 17), (200, 270)), ((8, 8), (8, 8)), ((9, 13), (40, 30))])
def test_matches_bilinear_argmax(src, dst):
    rng = np.random.default_rng(sum(src) + sum(dst))
    coarse = rng.normal(size=(11, src[0] // 2 + 2, src[1] // 2 + 2)).astype(np.float32)
    scores = F.interpolate(torch.from_numpy(coarse)[None], size=src, mode="bilinear",
                           align_corners=False)[0].numpy().copy()
    out = LabelUpsampler(src, dst)(scores)
    assert out.shape == dst and out.dtype == np.uint8
    ref = _reference(scores, dst)
    assert (out != ref).mean() < 1e-4  # float rounding at exact ties only


@pytest.mark.parametrize("src,dst", [((16, 24), (64, 96)), ((23, 30), (360, 480)), ((9, 13), (40, 30))])
def test_align_corners_matches_bilinear_argmax(src, dst, jit_mode):
    """smp's heads upsample with align_corners=True: the upsampler follows them when told (both kernels)."""
    rng = np.random.default_rng(sum(src) + sum(dst))
    coarse = rng.normal(size=(6, src[0] // 2 + 2, src[1] // 2 + 2)).astype(np.float32)
    scores = F.interpolate(torch.from_numpy(coarse)[None], size=src, mode="bilinear",
                           align_corners=False)[0].numpy().copy()
    out = LabelUpsampler(src, dst, align_corners=True)(scores)
    assert (out != _reference(scores, dst, align_corners=True)).mean() < 1e-4
    assert (out != _reference(scores, dst)).mean() > 1e-3  # the two conventions really differ here


def test_uniform_scores_give_one_class():
    scores = np.zeros((4, 6, 8), np.float32)
    scores[2] = 1.0
    assert (LabelUpsampler((6, 8), (48, 64))(scores) == 2).all()


def test_score_resizer_matches_bilinear():
    from edgeseg.pipeline.labels import ScoreResizer

    scores = np.random.default_rng(3).normal(size=(5, 23, 30)).astype(np.float32)
    ref = F.interpolate(torch.from_numpy(scores)[None], size=(45, 60), mode="bilinear", align_corners=False)[0]
    np.testing.assert_allclose(ScoreResizer((23, 30), (45, 60))(scores), ref.numpy(), atol=1e-5)


def test_compiled_kernel_and_numpy_path_agree(numba_kernels):
    from edgeseg.pipeline.labels import _upsample_argmax
    from edgeseg.system.jit import compiled

    assert compiled(_upsample_argmax) is not None  # with numba installed, LabelUpsampler runs the kernel
    rng = np.random.default_rng(8)
    for src, dst in [((23, 30), (360, 480)), ((9, 13), (40, 30)), ((12, 17), (200, 270))]:
        coarse = rng.normal(size=(8, src[0] // 2 + 2, src[1] // 2 + 2)).astype(np.float32)
        scores = F.interpolate(torch.from_numpy(coarse)[None], size=src, mode="bilinear",
                               align_corners=False)[0].numpy().copy()
        up = LabelUpsampler(src, dst)
        assert (up(scores) != up.numpy(scores)).mean() < 1e-4
