"""Raw motion vectors on disk in the mv-extractor tool's layout, to compare with its reference data.

Usage::

    with MvDump("out", frames=True) as dump:
        for frame in open_source("clip.mp4"):
            dump.write(frame)

Layout: ``DIR/frame_types.txt`` (one letter I/P/B per line, display order), ``DIR/motion_vectors/mvs-<i>.npy``
(int32 N×10, columns MV_COLUMNS, FFmpeg's order, unfiltered; (0, 10) without vectors) and, with frames=True,
``DIR/frames/frame-<i>.jpg``. i counts the frames written, from 0. DIR goes into an existing directory.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.sink.paths import make_dir
from edgeseg.source.frame import Frame
from edgeseg.source.vectors import NO_VECTORS


class MvDump:
    """Writes one frame at a time; frame_types.txt is flushed per frame (partial runs stay readable).

    The directory goes into an existing one (edgeseg.sink.paths: its parents are never created). discard()
    removes what this dump made, for a command that fails before its first frame."""

    def __init__(self, directory: str | Path, *, frames: bool = False, jpeg_quality: int = 3):
        self.dir = Path(directory)
        self.frames, self.count, self._q = frames, 0, jpeg_quality
        self._jpeg = None
        self._created = make_dir(self.dir, "--dump")  # True: the whole directory is this dump's
        self._made: list[Path] = []  # what this dump created inside a directory that existed
        try:
            for sub in ("motion_vectors", "frames") if frames else ("motion_vectors",):
                if not (self.dir / sub).is_dir():
                    (self.dir / sub).mkdir()
                    self._made.append(self.dir / sub)
            if not (self.dir / "frame_types.txt").exists():
                self._made.insert(0, self.dir / "frame_types.txt")
            self._types = open(self.dir / "frame_types.txt", "w")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            self._types = None
            self.discard()
            raise ConfigError(f"--dump {self.dir}: cannot write the dump ({exc.strerror})") from None

    def write(self, frame: Frame) -> None:
        i = self.count
        mvs = NO_VECTORS if frame.mvs is None else frame.mvs
        try:
            np.save(self.dir / "motion_vectors" / f"mvs-{i}.npy", np.ascontiguousarray(mvs, np.int32))
            self._types.write(frame.pict_type + "\n")
            self._types.flush()
            if self.frames:
                (self.dir / "frames" / f"frame-{i}.jpg").write_bytes(self._encode_jpeg(frame.image))
        except OSError as exc:  # disk full, directory removed meanwhile: the frames written so far stay
            raise ConfigError(f"--dump {self.dir}: cannot write frame {i} ({exc.strerror or exc})") from None
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
        if self._types is not None and not self._types.closed:
            self._types.close()

    def discard(self) -> None:
        """Close and remove everything this dump wrote: the directory if it made it, else its own files and
        subdirectories (a directory that existed is left as it was)."""
        self.close()
        if self._created:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        for i in range(self.count):
            (self.dir / "motion_vectors" / f"mvs-{i}.npy").unlink(missing_ok=True)
            (self.dir / "frames" / f"frame-{i}.jpg").unlink(missing_ok=True)
        for path in self._made:
            try:
                path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
            except OSError:
                pass  # something else was put there meanwhile: leave it
        self.count = 0

    def __enter__(self) -> MvDump:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
