"""Video frame → normalised network input at the model's size (run on keyframes only).

Usage: ``prep = Preprocessor(video_hw=(720, 1280), model_hw=(360, 480), mean=m, std=s); x = prep(rgb)``
"""

from __future__ import annotations

import numpy as np


def _resize_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis (align_corners=False, half-pixel centres)."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(src).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


class Preprocessor:
    """Normalise + HWC→NCHW + resize (bilinear). Contract: output is (1, 3, H_model, W_model) float32.

    Normalisation is a per-channel lookup table on the uint8 pixels (one gather per pixel instead of a
    float conversion and two arithmetic passes); it is affine, so it commutes with the bilinear resize.
    """

    def __init__(self, *, video_hw: tuple[int, int], model_hw: tuple[int, int], mean, std):
        self.video_hw, self.model_hw = tuple(video_hw), tuple(model_hw)
        mean, std = np.asarray(mean, np.float64)[:, None], np.asarray(std, np.float64)[:, None]
        self._lut = ((np.arange(256)[None, :] / 255.0 - mean) / std).astype(np.float32)  # (3, 256)
        self._rows = _resize_axis(self.video_hw[0], self.model_hw[0])
        self._cols = _resize_axis(self.video_hw[1], self.model_hw[1])

    def _resize(self, chw: np.ndarray) -> np.ndarray:
        r0, r1, wr = self._rows
        c0, c1, wc = self._cols
        rows = chw[:, r0] * (1 - wr)[None, :, None] + chw[:, r1] * wr[None, :, None]
        return rows[:, :, c0] * (1 - wc) + rows[:, :, c1] * wc

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        chw = np.empty((3, h, w), np.float32)
        for c in range(3):
            np.take(self._lut[c], rgb[:, :, c], out=chw[c])
        if (h, w) != self.model_hw:
            chw = self._resize(chw)
        return chw[None]
