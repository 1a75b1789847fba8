"""The correction: tiles of non-keyframes recomputed where the frame's pixels disagree with the keyframes'."""

import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.pipeline import SegmentSpec, segment_frames
from edgeseg.pipeline.correct import TileGrid
from edgeseg.sink.video import VideoWriter

BOX = (192, 96, 96, 96)  # x, y, w, h in pixels: exactly one tile core (96 px) of the 360×480 model input


def _appearing_clip(path, *, frames=11, shown=range(3, 8)):
    """A static blue background; a red box only in frames `shown` (in neither keyframe of K=10)."""
    rng = np.random.default_rng(5)
    bg = np.empty((360, 480, 3), np.uint8)
    bg[..., :2] = rng.integers(20, 60, (360, 480, 2))
    bg[..., 2] = rng.integers(150, 200, (360, 480))
    x, y, w, h = BOX
    images = []
    for t in range(frames):
        img = bg.copy()
        if t in shown:
            img[y:y + h, x:x + w] = (220, 30, 30)
        images.append(img)
    with VideoWriter(path, fps=25, width=480, height=360, crf=18, preset="veryfast", bframes=0) as writer:
        for img in images:
            writer.write(img)
    return path


def _red_share(results, frames):
    x, y, w, h = BOX
    return {r.frame.index: float(np.mean(r.labels[y:y + h, x:x + w] == 0)) for r in results
            if r.frame.index in frames}


@pytest.mark.parametrize("mode", ["interp", "prop"])
def test_correction_labels_an_object_in_neither_keyframe(tmp_path, colour, mode):
    clip = str(_appearing_clip(tmp_path / "appear.mp4"))
    nets, bundle = colour
    shown = range(3, 8)
    plain = _red_share(segment_frames(clip, SegmentSpec(mode=mode, keyframe_interval=10), nets=nets, bundle=bundle),
                       shown)
    spec = SegmentSpec(mode=mode, keyframe_interval=10, correct=0.25)
    results = list(segment_frames(clip, spec, nets=nets, bundle=bundle))
    fixed = _red_share(results, shown)
    assert max(plain.values()) < 0.2, plain  # carried from the keyframes: the background's class
    assert min(fixed.values()) > 0.9, fixed  # the red box, recomputed from the frame's own pixels
    others = [r.labels for r in results if r.frame.index not in shown and not r.keyframe]
    assert all(np.mean(labels == 2) > 0.95 for labels in others)  # nothing corrected where nothing changed


def test_tile_features_match_the_whole_frame_in_their_cores(colour):
    """The colour model's features are local (16×16 pooling): a tile's core must equal the whole frame's
    features there, which checks the windows, the canvas padding and the core offsets."""
    nets, bundle = colour
    x = np.random.default_rng(0).standard_normal((1, 3, 360, 480)).astype(np.float32)
    whole = nets.features(x)[0]
    grid = TileGrid((360, 480), whole.shape[1:])
    assert grid.canvas == (368, 480) and grid.size == (192, 192)  # 23 cells of 16 px: padded by 8 rows
    canvas = grid.fit(x[0])
    tiles = np.stack([canvas[:, ys:ys + 192, xs:xs + 192] for ys, xs, *_ in grid.windows])
    feats = nets.features(tiles)
    covered = np.zeros(whole.shape[1:], int)
    s = grid.stride
    for j, (ys, xs, r, c, nr, nc) in enumerate(grid.windows):
        covered[r:r + nr, c:c + nc] += 1
        core = feats[j, :, r - ys // s:r - ys // s + nr, c - xs // s:c - xs // s + nc]
        rows = slice(r, min(r + nr, 22))  # the last row of cells is partly padding in the tile
        np.testing.assert_allclose(core[:, :rows.stop - r], whole[:, rows, c:c + nc], atol=1e-5)
    assert (covered == 1).all()  # the cores tile the feature grid exactly once


def test_reference_model_runs_on_tiles(reference):
    nets, bundle = reference
    tiles = np.zeros((3, 3, 192, 192), np.float32)
    assert nets.features(tiles).shape == (3, 64, 24, 24)


@pytest.mark.parametrize("budget", [0.0, -0.1, 1.5])
def test_budget_outside_0_1_is_one_line_error(budget):
    with pytest.raises(ConfigError, match=r"correct .*\(0, 1\]"):
        SegmentSpec(correct=budget)
