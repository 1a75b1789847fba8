"""The unit every pipeline stage passes on: one decoded frame in display order.

Usage: ``for frame in source: frame.image, frame.mvs``
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from edgeseg.source.thumbnail import rgb_thumbnail, yuv420_thumbnail

# Columns of a raw motion-vector array, in FFmpeg's AVMotionVector order minus `flags`
# (the layout of the mv-extractor tool's mvs-<i>.npy files).
MV_COLUMNS = ("source", "w", "h", "src_x", "src_y", "dst_x", "dst_y", "motion_x", "motion_y", "motion_scale")


class Frame:
    """One decoded frame.

    index: 0-based position in display order.
    pts: presentation time in seconds (None when the container has none).
    pict_type: "I", "P", "B", or "?" when the decoder does not say.
    image: H×W×3 uint8 RGB. Sources may pass `loader` instead: the pixels are then converted on first
           access only (the runtime needs them on keyframes, not on every frame).
    mvs: N×10 int32 raw motion vectors (columns MV_COLUMNS), (0, 10) for a frame without vectors,
         None when the codec exports no vectors at all (then motion is estimated, see edgeseg.motion).
    planes: optional, () → (Y, U, V, full_range) uint8 views of the decoder's YUV 4:2:0 planes, or None for
            other pixel formats (thumbnail() then uses the RGB image).
    """

    __slots__ = ("index", "pts", "pict_type", "mvs", "meta", "height", "width", "_image", "_loader", "_scaler",
                 "_planes")

    def __init__(self, index: int, pts: float | None, pict_type: str, image: np.ndarray | None = None,
                 mvs: np.ndarray | None = None, meta: dict | None = None, *,
                 loader: Callable[[], np.ndarray] | None = None, size: tuple[int, int] | None = None,
                 scaler: Callable[[int, int], np.ndarray] | None = None, planes: Callable | None = None):
        if image is None and (loader is None or size is None):
            raise ValueError("Frame needs an image, or a loader and its (height, width)")
        self.index, self.pts, self.pict_type, self.mvs = index, pts, pict_type, mvs
        self.meta = {} if meta is None else meta
        self._image, self._loader, self._scaler, self._planes = image, loader, scaler, planes
        self.height, self.width = (int(image.shape[0]), int(image.shape[1])) if image is not None else size

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            self._image, self._loader = self._loader(), None
        return self._image

    def resized(self, height: int, width: int) -> np.ndarray | None:
        """RGB scaled to (height, width) by the decoder's own scaler, or None if the source has none."""
        if (height, width) == (self.height, self.width):
            return self.image
        return self._scaler(height, width) if self._scaler is not None else None

    def yuv420(self):
        """(Y, U, V, full_range): views of the decoder's YUV 4:2:0 planes, or None (no decoder frame, or
        another pixel format)."""
        return self._planes() if self._planes is not None else None

    def thumbnail(self, height: int, width: int) -> np.ndarray:
        """(height, width, 3) float32 RGB, each cell's mean colour (edgeseg.source.thumbnail): from the decoder's
        YUV planes where the source gives them (the same for every frame of a stream), else from the image."""
        planes = self.yuv420()
        if planes is not None and height <= planes[1].shape[0] and width <= planes[1].shape[1]:
            *yuv, full_range = planes
            return yuv420_thumbnail(*yuv, (height, width), full_range=full_range)
        return rgb_thumbnail(self.image, (height, width))

    def __repr__(self) -> str:
        return f"Frame(index={self.index}, pts={self.pts}, pict_type={self.pict_type!r}, {self.width}x{self.height})"
