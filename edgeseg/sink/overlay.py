"""Colour overlay video: the frame blended with the class palette, H.264, same size and fps as the input.

Usage: ``sink = OverlaySink("out.mp4", palette=bundle.palette, fps=25, alpha=0.5); sink.write(result)``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError


def colorize(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W) class indices → (H, W, 3) uint8 colours (unknown indices are black)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[labels]


def blend(image: np.ndarray, labels: np.ndarray, palette: np.ndarray, alpha: float) -> np.ndarray:
    """(1 - alpha) · image + alpha · palette[labels], uint8."""
    a = np.uint16(round(alpha * 256))
    mixed = image.astype(np.uint16) * (256 - a) + colorize(labels, palette).astype(np.uint16) * a
    return (mixed >> 8).astype(np.uint8)


class OverlaySink:
    """Writes every result as an overlay frame; the file is finalised (playable) by close()."""

    def __init__(self, path: str | Path, *, palette, fps: float, alpha: float = 0.5, crf: int = 23):
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"--alpha {alpha}: must be between 0 and 1")
        self.path, self.fps, self.alpha, self.crf = Path(path), fps, alpha, crf
        self.palette = np.asarray(palette, np.uint8).reshape(-1, 3)
        self._writer = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the overlay ({exc.strerror})") from None

    def write(self, result) -> None:
        image = result.frame.image
        if self._writer is None:
            from edgeseg.sink.video import VideoWriter

            self._writer = VideoWriter(self.path, fps=self.fps or 25, width=image.shape[1], height=image.shape[0],
                                       crf=self.crf, preset="veryfast")
        self._writer.write(blend(image, result.labels, self.palette, self.alpha))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
