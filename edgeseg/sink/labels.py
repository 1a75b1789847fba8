"""Label maps as one lossless video: gray8, value = class index, the input's size and frame rate.

Usage::

    sink = LabelVideoSink("labels.avi", fps=25.0); sink.write(result); sink.close()
    for labels in read_labels("labels.avi"): ...          # (H, W) uint8 arrays, exactly as written

The container is chosen by the name, and with it the codec (both lossless, measured on 1080p street label
maps, docs/RESULTS.md):
- ``.avi``: JPEG-LS, whose run mode codes a label map's flat regions almost for free: 2.6 ms of CPU per 1080p
  frame, 11 kB. The default of `edgeseg batch`.
- ``.mkv``: FFV1 in Matroska: the smallest files (6.7 kB) for 4× the CPU (10 ms per 1080p frame).
Every frame is a keyframe (gop 1), so label videos of consecutive pieces of a stream join by copying their
packets (``concat_videos``), without decoding. One file per stream instead of a PNG per frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError, SourceError
from edgeseg.sink.video import Encoder

# file suffix → (container format, codec)
LABEL_FORMATS = {".avi": ("avi", "jpegls"), ".mkv": ("matroska", "ffv1")}


def label_format(path: str | Path) -> tuple[str, str]:
    """(container, codec) of a label video by its name; ConfigError for another suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in LABEL_FORMATS:
        raise ConfigError(f"{path}: a label video is .avi (JPEG-LS, fast) or .mkv (FFV1, smallest)")
    return LABEL_FORMATS[suffix]


def video_rate(fps: float) -> Fraction:
    """A frame rate as the exact fraction containers store (25 → 25, 29.97… → 30000/1001)."""
    return Fraction(fps or 25.0).limit_denominator(100_000)


class LabelVideoSink:
    """Writes each result's labels (uint8 class indices) as one gray8 frame (JPEG-LS in .avi, FFV1 in .mkv);
    close() finalises the file."""

    def __init__(self, path: str | Path, *, fps: float):
        self.path, self.rate = Path(path), video_rate(fps)
        self.format, self.codec = label_format(self.path)
        self._encoder = None

    def _open(self, height: int, width: int) -> Encoder:
        import av

        try:
            container = av.open(str(self.path), mode="w", format=self.format)
        except (OSError, av.error.FFmpegError) as exc:
            raise ConfigError(f"{self.path}: cannot write the label video ({exc})") from None
        stream = container.add_stream(self.codec, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "gray"
        stream.codec_context.gop_size = 1  # every frame independent: pieces join by packet copy
        stream.codec_context.time_base = 1 / self.rate
        return Encoder(container, stream)

    def write(self, result) -> None:
        import av

        labels = result.labels
        if labels.dtype != np.uint8:
            labels = labels.astype(np.uint8)
        if self._encoder is None:
            self._encoder = self._open(*labels.shape)
        self._encoder.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(labels), format="gray"))

    def close(self) -> None:
        if self._encoder is not None:
            self._encoder.close()


def read_labels(path: str | Path) -> Iterator[np.ndarray]:
    """The label maps of a label video, in order: (H, W) uint8 arrays (class indices)."""
    import av

    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceError(f"{path}: cannot read the label video ({exc})") from None
    with container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="gray")


def concat_videos(parts: Sequence[str | Path], out: str | Path, *, frames: Sequence[int], fps: float) -> None:
    """Join videos of consecutive pieces of one stream (the same codec and settings) into `out` by copying
    packets; frames[i]: part i's frame count, which shifts the later parts' timestamps."""
    import av

    rate, before = video_rate(fps), 0
    fmt = LABEL_FORMATS.get(Path(out).suffix.lower(), (None,))[0]
    with av.open(str(out), mode="w", format=fmt) as dst:
        stream = None
        for part, count in zip(parts, frames, strict=True):
            with av.open(str(part)) as src:
                source = src.streams.video[0]
                if stream is None:
                    stream = dst.add_stream_from_template(source)
                shift = round(before / (rate * source.time_base))
                for packet in src.demux(source):
                    if packet.size == 0:
                        continue
                    if packet.pts is not None:
                        packet.pts += shift
                    if packet.dts is not None:
                        packet.dts += shift
                    packet.stream = stream
                    dst.mux(packet)
            before += count
