"""The correction: where a non-keyframe's own pixels disagree with the keyframes carried to it, the feature
network runs again there, on fixed-size tiles, under a per-frame budget. Training-free: any bundle whose
feature network is fully convolutional (it runs at the tile size).

Usage::

    correct = Correction(nets, space, budget=0.25)
    tiles = correct(frames, data, carried, thumbs)   # data: each frame's warped (h, w, C), corrected in place

The trigger: per cell of the warp grid, the L1 RGB distance between the frame's own thumbnail (thumbs) and the
colour its data came with (carried: the keyframes' thumbnails moved and blended as the data was, see
edgeseg.pipeline.interpolate / propagate). The feature grid is cut into square tile cores (TILE_CORE model
pixels); a tile whose mean mismatch exceeds `threshold` is recomputed, worst first, as many per frame as
`budget` (the share of the frame's pixels the feature network may run on, context included) allows, and at
least one. Each tile runs with TILE_HALO pixels of context on every side: one static input size (what
TensorRT wants), all tiles of a gap in one batch. Only the core replaces the warped data; in score space the
cores' features go through the task network (pointwise there, so one canvas of cores gives exact scores).
"""

from __future__ import annotations

import math

import numpy as np

from edgeseg.pipeline.space import WarpSpace, nearest
from edgeseg.pipeline.spec import CORRECT_ERROR

TILE_CORE = 96  # model pixels per side of the part of a tile whose features are replaced
TILE_BATCH = 8  # tiles per feature-network call (TensorRT engines are built for batches up to 8)
TILE_HALO = 48  # context per side. Reference model, tile features vs the whole frame's: labels agree on 93 %
# of core cells at 48 px, 75 % at 24 px (a wide receptive field: ASPP dilations and global pooling)


class TileGrid:
    """Fixed tiles over the model's input. windows: (n, 6) int rows (ys, xs, row, col, rows, cols): the tile's
    input window's top-left in model pixels, and its core's first cell and extent on the feature grid.
    size: the tiles' input (H, W); share: one tile's input area over the frame's; canvas: the (H, W) the
    windows cut from (the feature grid times the stride: the input padded or cut to whole strides)."""

    def __init__(self, model_hw: tuple[int, int], feature_hw: tuple[int, int], *, core: int = TILE_CORE,
                 halo: int = TILE_HALO):
        (H, W), (h, w) = model_hw, feature_hw
        s = 2 ** max(round(math.log2(H / h)), 0)  # the network's output stride (a power of two)
        H, W = self.canvas = (h * s, w * s)
        core, halo = max(core // s, 1) * s, -(-halo // s) * s
        th, tw = min(core + 2 * halo, H), min(core + 2 * halo, W)
        self.size, self.stride, self.share = (th, tw), s, th * tw / (H * W)
        rows = []
        for y0 in range(0, H, core):
            for x0 in range(0, W, core):
                ys, xs = min(max(y0 - halo, 0), H - th), min(max(x0 - halo, 0), W - tw)
                rows.append((ys, xs, y0 // s, x0 // s, min(core, H - y0) // s, min(core, W - x0) // s))
        self.windows = np.array(rows, np.intp)
        index = np.empty((h, w), np.intp)
        for t, (_ys, _xs, r, c, nr, nc) in enumerate(rows):
            index[r:r + nr, c:c + nc] = t
        self._index, self.feature_hw = index.ravel(), (h, w)
        self._cells = np.bincount(self._index, minlength=len(rows)).astype(np.float64)

    def fit(self, image: np.ndarray) -> np.ndarray:
        """(3, H, W) model input → the canvas the windows cut from (edge-padded or cut to whole strides)."""
        (H, W), (h, w) = self.canvas, image.shape[1:]
        image = image[:, :H, :W]
        if (h, w) != (H, W):
            image = np.pad(image, ((0, 0), (0, max(H - h, 0)), (0, max(W - w, 0))), mode="edge")
        return image

    def __len__(self) -> int:
        return len(self.windows)

    def mean(self, cells: np.ndarray) -> np.ndarray:
        """(h, w) values on the feature grid → each tile core's mean."""
        return np.bincount(self._index, weights=cells.ravel(), minlength=len(self)) / self._cells


class Correction:
    """Recomputes the worst-matching tiles of non-keyframes (see the module docstring). tiles: how many so far."""

    def __init__(self, nets, space: WarpSpace, *, budget: float, threshold: float = CORRECT_ERROR):
        self.nets, self.space, self.budget, self.threshold = nets, space, float(budget), float(threshold)
        self._grid: TileGrid | None = None
        self.tiles = 0

    def grid(self) -> TileGrid:
        if self._grid is None or self._grid.feature_hw != self.space.feature_hw:
            self._grid = TileGrid(self.space.model_hw, self.space.feature_hw)
        return self._grid

    def prepare(self) -> None:
        """Make the feature network's tile-sized runner now (the first keyframe calls this): its set-up, or a
        model that cannot run on tiles, shows at the start of a stream instead of in its middle."""
        self.nets.features(np.zeros((1, 3, *self.grid().size), np.float32))

    def pick(self, mismatch) -> list[np.ndarray]:
        """Each frame's tiles to recompute, worst first: mean mismatch above the threshold, within the budget."""
        grid = self.grid()
        most = max(1, int(self.budget / grid.share + 1e-9))
        host = mismatch.get() if hasattr(mismatch, "get") else np.asarray(mismatch)
        picks = []
        for err in host:
            per_tile = grid.mean(nearest(err, grid.feature_hw))
            order = np.argsort(-per_tile, kind="stable")[:most]
            picks.append(order[per_tile[order] > self.threshold])
        return picks

    def __call__(self, frames: list, data, carried, thumbs) -> int:
        """Correct each frame's warped data (data[k]: (h, w, C) on the warp grid, changed in place) where its
        carried colours (n, h, w, 3) disagree with its thumbnail (n, h, w, 3); a recomputed cell's carried colour
        becomes the frame's own (its data now comes from the frame). Returns the number of tiles recomputed."""
        xp = self.space.xp
        picks = self.pick(xp.abs(carried - thumbs).sum(-1))
        jobs = [(k, int(t)) for k, tiles in enumerate(picks) for t in tiles]
        if not jobs:
            return 0
        grid = self.grid()
        (th, tw), s = grid.size, grid.stride
        images = {k: grid.fit(self.space.image(frames[k])[0]) for k in dict.fromkeys(k for k, _ in jobs)}
        windows = [tuple(int(v) for v in grid.windows[t]) for _k, t in jobs]
        batch = np.stack([images[k][:, w[0]:w[0] + th, w[1]:w[1] + tw] for (k, _t), w in zip(jobs, windows,
                                                                                                strict=True)])
        feats = [self.nets.features(batch[i:i + TILE_BATCH]) for i in range(0, len(batch), TILE_BATCH)]
        feats = feats[0] if len(feats) == 1 else xp.concatenate(feats)  # (N, C, th / s, tw / s)
        cores = []
        mask = np.zeros((len(frames), *grid.feature_hw), bool)
        for j, ((k, _t), (ys, xs, r, c, nr, nc)) in enumerate(zip(jobs, windows, strict=True)):
            y, x = r - ys // s, c - xs // s  # the core's first cell in the tile's features
            cores.append((k, r, c, nr, nc, feats[j, :, y:y + nr, x:x + nc]))
            mask[k, r:r + nr, c:c + nc] = True
        if self.space.space == "scores":
            self._scores(data, cores, list(images))
        else:
            for k, r, c, nr, nc, core in cores:
                data[k][r:r + nr, c:c + nc] = core.transpose(1, 2, 0)
        for k in images:
            cells = xp.asarray(nearest(mask[k], carried.shape[1:3]))
            carried[k][cells] = thumbs[k][cells]
        self.tiles += len(jobs)
        return len(jobs)

    def _scores(self, data, cores, frames: list[int]) -> None:
        """Score space: the cores pasted into one feature canvas per frame, the task network on the canvases,
        the cores' cells of the result into the data (resampled to a finer warp grid where there is one)."""
        xp, (h, w) = self.space.xp, self.space.feature_hw
        slot = {k: i for i, k in enumerate(frames)}
        canvas = xp.zeros((len(frames), cores[0][5].shape[0], h, w), xp.float32)
        mask = np.zeros((len(frames), h, w), bool)
        for k, r, c, nr, nc, core in cores:
            canvas[slot[k], :, r:r + nr, c:c + nc] = core
            mask[slot[k], r:r + nr, c:c + nc] = True
        scores = self.nets.scores(canvas)
        for k, i in slot.items():
            sc, m = scores[i], mask[i]
            if self.space.to_warp_grid is not None:
                sc = self.space.to_warp_grid(sc)
                m = nearest(m, sc.shape[1:])
            data[k][m] = sc.transpose(1, 2, 0)[m]
