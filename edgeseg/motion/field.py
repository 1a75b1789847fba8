"""Dense block-motion field: per-cell displacement to the previous displayed frame.

Usage: ``field.dx[r, c], field.dy[r, c]`` for the cell whose top-left pixel is (c*stride, r*stride).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class MotionField:
    """Motion of frame t relative to frame t-1 (display order), sampled on a grid.

    Contract: the content at pixel p of frame t came from pixel p + (dx, dy) of frame t-1,
    i.e. ``frame_t(p) ≈ frame_{t-1}(p + d(p))`` (backward motion, as codecs store it).
    dx, dy: (ceil(H/stride), ceil(W/stride)) float32 pixels; valid: same shape, bool
    (False for intra-coded and uncovered cells: their dx/dy are 0 and mean nothing).
    """

    dx: np.ndarray
    dy: np.ndarray
    valid: np.ndarray
    stride: int
    height: int  # frame size in pixels
    width: int

    @classmethod
    def empty(cls, height: int, width: int, stride: int) -> MotionField:
        """A field with no information (e.g. an I-frame): zero motion, every cell invalid."""
        shape = (-(-height // stride), -(-width // stride))
        zeros = np.zeros(shape, np.float32)
        return cls(zeros, zeros.copy(), np.zeros(shape, bool), stride, height, width)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.dx.shape)

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean()) if self.valid.size else 0.0
