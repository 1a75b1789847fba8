"""RTSP streams: TCP transport by default, open and read timeouts.

Usage: ``src = open_rtsp("rtsp://camera.local/stream", timeout=10.0)``
"""

from __future__ import annotations

from edgeseg.errors import SourceError
from edgeseg.source.decode import Source, _cause


def open_rtsp(url: str, *, timeout: float = 10.0, transport: str = "tcp", export_mvs: bool = True) -> Source:
    """Connect to an RTSP URL; timeout (seconds) bounds the connect and each read. Raises SourceError."""
    import av

    if transport not in ("tcp", "udp"):
        raise SourceError(f"{url}: RTSP transport {transport!r} is not tcp or udp")
    options = {"rtsp_transport": transport, "timeout": str(int(timeout * 1e6)),  # socket timeout, µs
               "fflags": "nobuffer"}
    try:
        container = av.open(url, options=options, timeout=(timeout, timeout))
    except av.error.InvalidDataError as exc:
        raise SourceError(f"{url}: not a video stream ({_cause(exc)})") from None
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceError(f"{url}: cannot connect ({_cause(exc)})") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{url}: the stream has no video track")
    return Source(container, name=url, is_live=True, export_mvs=export_mvs)
