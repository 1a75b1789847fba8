"""H.264 video writer over PyAV/libx264 (tests, the overlay sink and the synthetic-video renderer use it).

Usage: ``with VideoWriter("out.mp4", fps=25, width=642, height=362) as w: w.write(rgb)``

Odd sizes: yuv420p needs even dimensions, so a frame with an odd width/height is padded by one column/row
(edge replication, right/bottom) before encoding; ``encoded_size`` says what the file holds. Pixels keep their
coordinates, so motion measured in the file is the motion of the input.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError


class Encoder:
    """An open output container and its video stream: encode() frames in order; close() flushes the encoder and
    finalises the file (idempotent)."""

    def __init__(self, container, stream):
        self._container, self._stream, self._count = container, stream, 0

    def encode(self, frame) -> None:
        """Encode one av.VideoFrame as the next frame (its pts: the frame count so far)."""
        frame.pts = self._count
        self._count += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    @property
    def frames_written(self) -> int:
        return self._count

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter(Encoder):
    """Encodes H×W×3 uint8 RGB frames to an H.264 file (container from the suffix: .mp4, .mkv, .mov, .h264 …).

    bframes / refs / gop: libx264's max consecutive B-frames, reference frames and keyframe interval
    (None keeps the preset's choice). options: extra libx264 options, e.g. {"tune": "zerolatency"}.
    codec: another H.264 encoder (a hardware one, see edgeseg.system.encoders); its options come from
    ``encoder_options`` (crf and preset are mapped onto it there).
    """

    def __init__(self, path: str | Path, *, fps: float, width: int, height: int, crf: int = 23,
                 preset: str = "medium", bframes: int | None = None, refs: int | None = None,
                 gop: int | None = None, pix_fmt: str = "yuv420p", options: dict | None = None,
                 codec: str = "libx264"):
        import av

        from edgeseg.system.encoders import encoder_options

        if width < 1 or height < 1:
            raise ConfigError(f"{path}: frame size {width}x{height} is not positive")
        if not fps or fps <= 0:
            raise ConfigError(f"{path}: fps {fps} is not positive")
        self.path, self.width, self.height = Path(path), int(width), int(height)
        even = pix_fmt.startswith(("yuv420", "nv12", "yuvj420"))
        self.encoded_size = (self.width + (self.width % 2 if even else 0),
                             self.height + (self.height % 2 if even else 0))  # (width, height) in the file
        rate = Fraction(fps).limit_denominator(100_000)
        opts = encoder_options(codec, crf=crf, preset=preset)
        if bframes is not None:
            opts["bf"] = str(int(bframes))
        if refs is not None:
            opts["refs"] = str(int(refs))
        if gop is not None:
            opts["g"] = str(int(gop))
        opts.update({k: str(v) for k, v in (options or {}).items()})
        fmt = "h264" if self.path.suffix.lower() in (".h264", ".264") else None
        try:
            self._container = av.open(str(self.path), mode="w", format=fmt)
        except (OSError, ValueError, av.error.FFmpegError) as exc:
            raise ConfigError(f"{self.path}: cannot write the video ({exc})") from None
        self.codec = codec
        stream = self._container.add_stream(codec, rate=rate, options=opts)
        stream.width, stream.height = self.encoded_size
        stream.pix_fmt = pix_fmt
        stream.codec_context.time_base = 1 / rate
        super().__init__(self._container, stream)

    def write(self, rgb: np.ndarray) -> None:
        """Append one frame; rgb must be (height, width, 3) uint8."""
        import av

        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ConfigError(f"{self.path}: frame {rgb.shape} {rgb.dtype} is not "
                              f"({self.height}, {self.width}, 3) uint8")
        pad_w, pad_h = self.encoded_size[0] - self.width, self.encoded_size[1] - self.height
        if pad_w or pad_h:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        self.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24"))

    def write_yuv420(self, yuv: np.ndarray) -> None:
        """Append one frame given as yuv420p planes stacked in one (height·3/2, width) uint8 array (Y rows, then
        U and V, each a half-size plane flattened into rows of `width`): no colour conversion on the way."""
        import av

        if self.encoded_size != (self.width, self.height) or yuv.shape != (self.height * 3 // 2, self.width):
            raise ConfigError(f"{self.path}: yuv420p frame {yuv.shape} does not fit {self.width}x{self.height}")
        self.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p"))
