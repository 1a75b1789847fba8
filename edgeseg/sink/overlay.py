"""Colour overlay video: the frame blended with the class palette, H.264, at the input's fps.

Usage: ``sink = OverlaySink("out.mp4", palette=bundle.palette, fps=25, alpha=0.5, scale=0.5); sink.write(result)``

Look and cost: every pixel is ``(1 - alpha) · frame + alpha · palette[label]`` (alpha in 1/256 steps), read
from a per-class lookup table (one gather per channel). At scale 1 the blend runs on the decoder's own
YUV 4:2:0 planes (the palette is converted to BT.601 limited-range YUV, the conversion libx264's input
would get; chroma takes the label of the top-left pixel of each 2×2 block), so the frame goes to the
encoder with no RGB round trip. Other scales, odd sizes and full-range sources blend in RGB.
Encoder: libx264 at crf 23 (OVERLAY_CRF), preset OVERLAY_PRESET, a quarter of the CPUs as its threads, tune
zerolatency for live sources; or a working hardware encoder (edgeseg.system.encoders). Size: the input's, times `scale` (rounded to even).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.sink.paths import check_parent
from edgeseg.sink.stats import sampled_hw
from edgeseg.system.jit import compiled

OVERLAY_CRF = 23
OVERLAY_PRESET = "ultrafast"  # same quality as veryfast at crf 23 (PSNR), 1/3 of its CPU, 2.8x the bytes
# BT.601 limited range, the matrix swscale uses for rgb24 → yuv420p (what the encoder got before)
_RGB_TO_YUV = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255
_YUV_OFFSET = np.array([16.0, 128.0, 128.0])


def colorize(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(H, W) class indices → (H, W, 3) uint8 colours (unknown indices are black)."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    return lut[labels]


def blend_tables(palette, alpha: float, *, yuv: bool = False) -> np.ndarray:
    """(3, 256, 256) uint8: table[channel, class, value] = blended value (unknown classes blend with black)."""
    colours = np.zeros((256, 3), np.float64)
    pal = np.asarray(palette, np.float64).reshape(-1, 3)
    colours[: len(pal)] = pal
    if yuv:
        colours = np.clip(np.round(colours @ _RGB_TO_YUV.T + _YUV_OFFSET), 0, 255)
        colours[len(pal):] = _YUV_OFFSET  # black: Y 16, neutral chroma
    a = int(round(alpha * 256))
    values = np.arange(256, dtype=np.int64)
    table = (values[None, None, :] * (256 - a) + colours.T.astype(np.int64)[:, :, None] * a) >> 8
    return table.astype(np.uint8)


def blend(image: np.ndarray, labels: np.ndarray, palette: np.ndarray, alpha: float) -> np.ndarray:
    """(1 - alpha) · image + alpha · palette[labels], uint8 (RGB)."""
    return blend_rgb(image, labels, blend_tables(palette, alpha))


def _lut_into(labels, plane, table, out):
    """out[i, j] = table[labels[i, j], plane[i, j]] (numba-compiled)."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = table[labels[i, j], plane[i, j]]


def _lut(labels: np.ndarray, plane: np.ndarray, table: np.ndarray, out: np.ndarray) -> None:
    kernel = compiled(_lut_into)
    if kernel is not None:
        kernel(labels, plane, table, out)
    else:
        out[...] = table[labels, plane]


def blend_rgb(image: np.ndarray, labels: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """The RGB image blended with its labels' colours through blend_tables (compiled lookups)."""
    out = np.empty(image.shape, np.uint8)
    for c in range(3):
        _lut(labels, image[:, :, c], tables[c], out[:, :, c])
    return out


def _blend_yuv420(y, u, v, labels: np.ndarray, tables: np.ndarray) -> np.ndarray:
    """yuv420p planes blended into one (H·3/2, W) array (VideoWriter.write_yuv420's layout)."""
    h, w = y.shape
    out = np.empty((h * 3 // 2, w), np.uint8)
    flat = out.reshape(-1)
    _lut(labels, y, tables[0], out[:h])
    chroma = labels[::2, ::2]
    n = (h // 2) * (w // 2)
    _lut(chroma, u, tables[1], flat[h * w:h * w + n].reshape(h // 2, w // 2))
    _lut(chroma, v, tables[2], flat[h * w + n:].reshape(h // 2, w // 2))
    return out


def encoder_threads() -> int:
    """libx264 threads for an overlay: a quarter of the CPUs (1 on a 2-core box: 139 vs 115 fps with
    libx264's own choice, 960×540 interp with --overlay --stats, paired rounds)."""
    return max(1, (os.cpu_count() or 1) // 4)


def nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """For each of n_out samples, the index of the nearest of n_in (pixel centres): nearest-neighbour resizing."""
    return np.minimum(((np.arange(n_out) + 0.5) * n_in / n_out).astype(np.intp), n_in - 1)


class OverlaySink:
    """Writes every result as an overlay frame; the file is finalised (playable) by close().

    scale: output size relative to the input (0 < scale ≤ 1, e.g. 0.5 for a preview); live: tune the
    encoder for latency (zerolatency); encoder: "auto" (a working hardware encoder, else libx264) or a name.
    """

    def __init__(self, path: str | Path, *, palette, fps: float, alpha: float = 0.5, crf: int = OVERLAY_CRF,
                 preset: str = OVERLAY_PRESET, scale: float = 1.0, live: bool = False, encoder: str = "auto"):
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"--alpha {alpha}: must be between 0 and 1")
        if not 0.0 < scale <= 1.0:
            raise ConfigError(f"--overlay-scale {scale}: must be in (0, 1]")
        self.path, self.fps, self.alpha, self.crf, self.preset = Path(path), fps, alpha, crf, preset
        self.scale, self.live, self.encoder = float(scale), live, encoder
        self.palette = np.asarray(palette, np.uint8).reshape(-1, 3)
        self._rgb_tables = blend_tables(self.palette, alpha)
        self._yuv_tables = blend_tables(self.palette, alpha, yuv=True)
        self._writer = None
        self._rows = self._cols = None
        check_parent(self.path, "overlay")
        try:
            self.path.touch()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write the overlay ({exc.strerror})") from None

    def _open(self, height: int, width: int) -> None:
        from edgeseg.sink.video import VideoWriter
        from edgeseg.system.encoders import pick_encoder

        if self.scale != 1.0:
            height, width = (max(2, 2 * round(n * self.scale / 2)) for n in (height, width))
            self._rows, self._cols = nearest_index(self._in_hw[0], height), nearest_index(self._in_hw[1], width)
        codec = pick_encoder(self.encoder)
        options = None
        if codec == "libx264":  # a quarter of the cores: on 2 the encoder stays on its writer thread's core
            options = {"threads": str(encoder_threads())} | ({"tune": "zerolatency"} if self.live else {})
        self._writer = VideoWriter(self.path, fps=self.fps or 25, width=width, height=height, crf=self.crf,
                                   preset=self.preset, options=options, codec=codec)

    def write(self, result) -> None:
        frame = result.frame
        if self._writer is None:
            self._in_hw = (frame.height, frame.width)
            self._open(frame.height, frame.width)
        w = self._writer
        if self._rows is not None:  # a smaller preview: the decoder scales the pixels, labels by nearest
            image = frame.resized(w.height, w.width)
            if image is None:
                image = frame.image[self._rows[:, None], self._cols[None, :]]
            w.write(blend_rgb(image, self._preview_labels(result), self._rgb_tables))
            return
        labels = result.labels
        planes = frame.yuv420() if w.encoded_size == (w.width, w.height) else None
        if planes is not None and not planes[3]:
            w.write_yuv420(_blend_yuv420(*planes[:3], labels, self._yuv_tables))
        else:
            w.write(blend_rgb(frame.image, labels, self._rgb_tables))

    def _preview_labels(self, result) -> np.ndarray:
        """The labels at the preview's size: made at that size where it is a whole step of the video's
        (scale 1/2, 1/3, …: 1/step² of the full map's work, see Result.labels_at), else nearest from the map."""
        h, w = self._in_hw
        step = round(1 / self.scale)
        if step > 1 and sampled_hw((h, w), step) == (self._writer.height, self._writer.width):
            return result.labels_at(step)
        return result.labels[self._rows[:, None], self._cols[None, :]]

    def close(self) -> None:
        """Finalise the file; a run that ended before its first frame removes the empty file it made."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        elif self.path.is_file() and self.path.stat().st_size == 0:
            self.path.unlink(missing_ok=True)
