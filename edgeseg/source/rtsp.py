"""RTSP streams: TCP transport by default, open and read timeouts.

Usage: ``src = open_rtsp("rtsp://camera.local/stream", timeout=10.0)``
"""

from __future__ import annotations

import time

from edgeseg.errors import SourceError
from edgeseg.source.decode import Source, ffmpeg_cause


def open_rtsp(url: str, *, timeout: float = 10.0, transport: str = "tcp", export_mvs: bool = True) -> Source:
    """Connect to an RTSP URL; timeout (seconds) bounds the connect and each read. Raises SourceError."""
    import av

    if transport not in ("tcp", "udp"):
        raise SourceError(f"{url}: RTSP transport {transport!r} is not tcp or udp")
    # socket I/O timeout in µs (FFmpeg ≥ 5); fflags=nobuffer is not set: it drops the packets read while
    # probing the stream, the first keyframe among them
    options = {"rtsp_transport": transport, "timeout": str(int(timeout * 1e6))}
    start = time.monotonic()
    try:
        container = av.open(url, options=options, timeout=(timeout, timeout))
    except (OSError, av.error.FFmpegError) as exc:
        if time.monotonic() - start >= 0.95 * timeout:  # the interrupt fired: FFmpeg reports odd errors then
            raise SourceError(f"{url}: no answer within {timeout:g} s (timed out)") from None
        if isinstance(exc, av.error.InvalidDataError):
            raise SourceError(f"{url}: not a video stream ({ffmpeg_cause(exc)})") from None
        raise SourceError(f"{url}: cannot connect ({ffmpeg_cause(exc)})") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{url}: the stream has no video track")
    return Source(container, name=url, is_live=True, export_mvs=export_mvs)
