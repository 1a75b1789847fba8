"""Video frame → normalised network input at the model's size (run on keyframes only).

Usage: ``prep = Preprocessor(video_hw=(720, 1280), model_hw=(360, 480), mean=m, std=s); x = prep(rgb)``
"""

from __future__ import annotations

import numpy as np

from edgeseg.pipeline.labels import resize_taps


class Preprocessor:
    """Normalise + HWC→NCHW + resize (bilinear). Contract: output is (1, 3, H_model, W_model) float32.

    The uint8 planes are made contiguous first, so the float conversion and the in-place per-channel
    affine run on contiguous memory (10× faster than arithmetic on the transposed view). Normalisation is
    affine, so it commutes with the bilinear resize that follows.
    """

    def __init__(self, *, video_hw: tuple[int, int], model_hw: tuple[int, int], mean, std):
        self.video_hw, self.model_hw = tuple(video_hw), tuple(model_hw)
        std = np.asarray(std, np.float32)
        self._scale = (1.0 / (255.0 * std)).reshape(3, 1, 1)
        self._shift = (np.asarray(mean, np.float32) / std).reshape(3, 1, 1)
        self._rows = resize_taps(self.video_hw[0], self.model_hw[0])
        self._cols = resize_taps(self.video_hw[1], self.model_hw[1])

    def _resize(self, chw: np.ndarray) -> np.ndarray:
        r0, r1, wr = self._rows
        c0, c1, wc = self._cols
        rows = chw[:, r0] * (1 - wr)[None, :, None] + chw[:, r1] * wr[None, :, None]
        return rows[:, :, c0] * (1 - wc) + rows[:, :, c1] * wc

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 at the video's or already at the model's size → (1, 3, H_model, W_model)."""
        chw = np.ascontiguousarray(rgb.transpose(2, 0, 1)).astype(np.float32)
        chw *= self._scale
        chw -= self._shift
        if chw.shape[1:] != self.model_hw:
            chw = self._resize(chw)
        return chw[None]
