"""Labels guided by the frame's pixels: the compiled kernel and the NumPy path, and what guidance does."""

import numpy as np
import pytest

from edgeseg.pipeline.guide import GuidedUpsampler, pixel_planes
from edgeseg.pipeline.labels import LabelUpsampler
from edgeseg.source.frame import Frame

RED, BLUE = (200, 30, 30), (30, 30, 200)


def _random(seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((6, 15, 20)).astype(np.float32)
    scores = np.repeat(np.repeat(scores[:, ::3, ::3], 3, 1), 3, 2)[:, :15, :20].copy()  # regions, not noise
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    guide = rng.uniform(0, 255, (15, 20, 3)).astype(np.float32)
    return scores, Frame(0, 0.0, "P", image=image), guide


def test_compiled_kernel_and_numpy_path_agree(numba_kernels):
    scores, frame, guide = _random()
    up = GuidedUpsampler((15, 20), (120, 160))
    compiled = up(scores, guide, frame)
    assert np.array_equal(compiled, up.guided_numpy(scores, guide, pixel_planes(frame)))
    assert not np.array_equal(compiled, LabelUpsampler((15, 20), (120, 160))(scores))  # guidance changed labels


def test_without_colour_differences_it_is_the_plain_upsampler(jit_mode):
    scores, frame, guide = _random(1)
    flat = GuidedUpsampler((15, 20), (120, 160), scale=1e9)  # every colour equally close
    assert np.array_equal(flat(scores, guide, frame), LabelUpsampler((15, 20), (120, 160))(scores))
    assert np.array_equal(flat(scores), LabelUpsampler((15, 20), (120, 160))(scores))  # no guide: plain


@pytest.mark.parametrize("edge", [37, 43])
def test_labels_follow_the_frames_edge_where_the_scores_sit_off_it(jit_mode, edge):
    """Class 0 (red) scores cover cells 0-4 of each row (8-pixel cells), class 1 (blue) the rest: the plain
    labels change class halfway between the two cells' centres (x = 40), wherever the frame's edge is. The
    frame's red ends at `edge`, inside that pair of cells: the guided labels change class there."""
    scores = np.zeros((2, 4, 10), np.float32)
    scores[0, :, :5], scores[1, :, 5:] = 1.0, 1.0
    guide = np.empty((4, 10, 3), np.float32)
    guide[:, :5], guide[:, 5:] = RED, BLUE  # the colour each cell's scores came with
    image = np.empty((32, 80, 3), np.uint8)
    image[:, :edge], image[:, edge:] = RED, BLUE
    frame = Frame(0, 0.0, "P", image=image)
    plain = LabelUpsampler((4, 10), (32, 80))(scores)
    guided = GuidedUpsampler((4, 10), (32, 80))(scores, guide, frame)
    truth = np.where(np.arange(80) < edge, 0, 1)[None].repeat(32, 0)
    assert (plain != truth).sum() == 32 * 3  # three columns on the wrong side of the frame's edge
    assert np.array_equal(guided, truth)
