"""Raw motion vectors on disk in the mv-extractor tool's layout, to compare with its reference data.

Usage::

    with MvDump("out", frames=True) as dump:
        for frame in open_source("clip.mp4"):
            dump.write(frame)

Layout: ``DIR/frame_types.txt`` (one letter I/P/B per line, display order), ``DIR/motion_vectors/mvs-<i>.npy``
(int32 N×10, columns MV_COLUMNS, FFmpeg's order, unfiltered; (0, 10) without vectors) and, with frames=True,
``DIR/frames/frame-<i>.jpg``. i counts the frames written, from 0.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.source.frame import Frame
from edgeseg.source.vectors import NO_VECTORS


class MvDump:
    """Writes one frame at a time; frame_types.txt is flushed per frame (partial runs stay readable)."""

    def __init__(self, directory: str | Path, *, frames: bool = False, jpeg_quality: int = 3):
        self.dir = Path(directory)
        try:
            (self.dir / "motion_vectors").mkdir(parents=True, exist_ok=True)
            if frames:
                (self.dir / "frames").mkdir(exist_ok=True)
            self._types = open(self.dir / "frame_types.txt", "w")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise ConfigError(f"{self.dir}: cannot write the dump ({exc.strerror})") from None
        self.frames, self.count, self._q = frames, 0, jpeg_quality
        self._jpeg = None

    def write(self, frame: Frame) -> None:
        i = self.count
        mvs = NO_VECTORS if frame.mvs is None else frame.mvs
        np.save(self.dir / "motion_vectors" / f"mvs-{i}.npy", np.ascontiguousarray(mvs, np.int32))
        self._types.write(frame.pict_type + "\n")
        self._types.flush()
        if self.frames:
            (self.dir / "frames" / f"frame-{i}.jpg").write_bytes(self._encode_jpeg(frame.image))
        self.count += 1

    def _encode_jpeg(self, rgb: np.ndarray) -> bytes:
        import av

        h, w = rgb.shape[:2]
        if self._jpeg is None or (self._jpeg.width, self._jpeg.height) != (w, h):
            enc = av.CodecContext.create("mjpeg", "w")
            enc.width, enc.height, enc.pix_fmt = w, h, "yuvj444p"
            enc.time_base = Fraction(1, 25)
            enc.options = {"qmin": str(self._q), "qmax": str(self._q)}
            enc.open()
            self._jpeg = enc
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuvj444p")
        return b"".join(bytes(p) for p in self._jpeg.encode(vf))

    def close(self) -> None:
        if not self._types.closed:
            self._types.close()

    def __enter__(self) -> MvDump:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
