"""Fallback motion for codecs that export no vectors (HEVC, VP9, AV1, MJPEG/YUYV webcams).

Usage: ``est = X264Estimator(); mvs = est.vectors(rgb)`` → FFmpeg-layout vectors of this frame relative to the
previous one (None for the first frame and for frames x264 codes as intra, e.g. scene cuts).

Chosen by measurement (docs/MOTION.md, benchmarks/bench_motion.py): each frame is re-encoded in-process with
libx264 (ultrafast, zerolatency, no B-frames, one reference, quarter-pel search) and its vectors read back
from FFmpeg's decoder, so they have exactly the semantics of native H.264 P-frame vectors (distance 1).
``block_match`` is the numpy alternative it was measured against.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

X264_PARAMS = "bframes=0:ref=1:keyint=infinite:scenecut=40:subme=2:me=dia:partitions=none"


class X264Estimator:
    """Streaming estimator: feed frames in display order; each returns vectors to the previous frame."""

    def __init__(self, *, crf: int = 23):
        self.crf = crf
        self._size = None
        self._enc = self._dec = None
        self._count = 0

    def _open(self, width: int, height: int) -> None:
        import av

        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height = width, height
        enc.pix_fmt = "yuv420p"
        enc.time_base = Fraction(1, 25)
        enc.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": str(self.crf),
                       "x264-params": X264_PARAMS}
        enc.open()
        dec = av.CodecContext.create("h264", "r")
        dec.options = {"flags2": "+export_mvs"}
        dec.open()
        self._enc, self._dec, self._size, self._count = enc, dec, (width, height), 0

    def vectors(self, rgb: np.ndarray) -> np.ndarray | None:
        """Vectors of `rgb` (H×W×3 uint8) relative to the previously fed frame; None when there are none."""
        import av

        from edgeseg.source.vectors import vectors_from_av

        h, w = rgb.shape[:2]
        pad_h, pad_w = h % 2, w % 2  # yuv420p needs even sizes (pad right/bottom, coordinates unchanged)
        if pad_h or pad_w:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        if self._size != (w + pad_w, h + pad_h):
            self._open(w + pad_w, h + pad_h)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
        frame.pts = self._count
        self._count += 1
        out = None
        for packet in self._enc.encode(frame):
            for decoded in self._dec.decode(packet):
                if int(decoded.pict_type) == 2:  # P
                    out = vectors_from_av(decoded)
        return out


def block_match(prev_gray: np.ndarray, gray: np.ndarray, *, block: int = 16, radius: int = 8) -> np.ndarray:
    """Exhaustive integer SAD block matching (numpy), in the same N×10 vector layout (motion_scale 1).

    Measured alternative to X264Estimator (slower and less precise, see docs/MOTION.md); kept for the benchmark.
    """
    h, w = gray.shape
    gh, gw = h // block, w // block
    cur = gray[: gh * block, : gw * block].astype(np.int16).reshape(gh, block, gw, block)
    pad = np.pad(prev_gray.astype(np.int16), radius, mode="edge")
    best = np.full((gh, gw), np.iinfo(np.int32).max, np.int64)
    bx = np.zeros((gh, gw), np.int32)
    by = np.zeros((gh, gw), np.int32)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            ref = pad[radius + dy: radius + dy + gh * block, radius + dx: radius + dx + gw * block]
            sad = np.abs(ref.reshape(gh, block, gw, block) - cur).sum(axis=(1, 3))
            better = sad < best
            best = np.where(better, sad, best)
            bx = np.where(better, dx, bx)
            by = np.where(better, dy, by)
    r, c = np.mgrid[0:gh, 0:gw]
    cx, cy = c * block + block // 2, r * block + block // 2
    n = gh * gw
    out = np.empty((n, 10), np.int32)
    out[:, 0] = -1
    out[:, 1] = out[:, 2] = block
    out[:, 3], out[:, 4] = (cx + bx).ravel(), (cy + by).ravel()
    out[:, 5], out[:, 6] = cx.ravel(), cy.ravel()
    out[:, 7], out[:, 8] = bx.ravel(), by.ravel()
    out[:, 9] = 1
    return out
