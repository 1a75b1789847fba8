import numpy as np
import pytest

from edgeseg.pipeline.preprocess import Preprocessor

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_normalisation_same_size():
    rgb = np.random.default_rng(0).integers(0, 256, (36, 48, 3), dtype=np.uint8)
    x = Preprocessor(video_hw=(36, 48), model_hw=(36, 48), mean=MEAN, std=STD)(rgb)
    assert x.shape == (1, 3, 36, 48) and x.dtype == np.float32 and x.flags.c_contiguous
    ref = ((rgb / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    np.testing.assert_allclose(x[0], ref, atol=1e-5)


def test_resize_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    rgb = np.random.default_rng(1).integers(0, 256, (72, 100, 3), dtype=np.uint8)
    x = Preprocessor(video_hw=(72, 100), model_hw=(36, 48), mean=MEAN, std=STD)(rgb)
    norm = torch.from_numpy(((rgb / 255.0 - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32))
    ref = torch.nn.functional.interpolate(norm, size=(36, 48), mode="bilinear", align_corners=False,
                                          antialias=False).numpy()
    np.testing.assert_allclose(x, ref, atol=1e-4)
