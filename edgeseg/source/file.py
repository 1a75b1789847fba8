"""Local video files (mp4, mkv, mov, avi, raw .h264/.264 …), with one-line errors for bad files.

Usage: ``src = open_file("clip.mp4")``
"""

from __future__ import annotations

import os
from pathlib import Path

from edgeseg.errors import SourceError
from edgeseg.source.decode import Source, ffmpeg_cause

# Leading bytes of containers we know: a file that starts like a video but cannot be read is truncated/damaged.
_SIGNATURES = ((4, b"ftyp"), (4, b"moov"), (4, b"mdat"), (4, b"free"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"),
               (0, b"\x00\x00\x00\x01"), (0, b"\x00\x00\x01"), (0, b"FLV"), (0, b"\x47"))


def _looks_like_video(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(16)
    return any(head[off:off + len(sig)] == sig for off, sig in _SIGNATURES)


def open_file(path: str | os.PathLike, *, export_mvs: bool = True) -> Source:
    """Open a local video file; raises SourceError (missing, empty, not a video, truncated, no video stream)."""
    import av

    p = Path(path)
    name = str(path)
    if not p.exists():
        raise SourceError(f"{name}: no such file")
    if p.is_dir():
        raise SourceError(f"{name}: is a directory, not a video file")
    if p.stat().st_size == 0:
        raise SourceError(f"{name}: file is empty")
    fmt = "h264" if p.suffix.lower() in (".h264", ".264") else None
    try:
        container = av.open(name, format=fmt)
    except av.error.InvalidDataError as exc:
        if _looks_like_video(p):
            raise SourceError(f"{name}: truncated or damaged video ({ffmpeg_cause(exc)})") from None
        raise SourceError(f"{name}: not a video (no known container or codec)") from None
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceError(f"{name}: cannot open ({ffmpeg_cause(exc)})") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{name}: not a video (no video stream)")
    stream = container.streams.video[0]
    if stream.codec_context.width == 0 or stream.frames == 0 and stream.duration == 0:
        container.close()
        raise SourceError(f"{name}: truncated or damaged video (no decodable frames)")
    return Source(container, name=name, is_live=False, export_mvs=export_mvs)
