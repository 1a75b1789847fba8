"""V4L2 cameras (`cameraN` or `/dev/videoN`) through PyAV's v4l2 demuxer, incl. YUYV and MJPEG formats.

Usage: ``src = open_camera("camera0", size="1280x720", fps=30, input_format="mjpeg")``
Webcam formats (rawvideo YUYV, MJPEG) carry no motion vectors: frames have ``mvs=None`` and
``MotionFieldBuilder`` estimates motion instead.
"""

from __future__ import annotations

import os
import re

from edgeseg.errors import SourceError
from edgeseg.source.decode import Source, ffmpeg_cause

_CAMERA = re.compile(r"^(?:camera(\d+)|/dev/video(\d+))$")


def camera_device(spec: str) -> str | None:
    """'camera2' or '/dev/video2' → '/dev/video2'; None when spec names no camera."""
    m = _CAMERA.match(spec)
    return None if m is None else f"/dev/video{m.group(1) or m.group(2)}"


def open_camera(spec: str, *, size: str | None = None, fps: float | None = None,
                input_format: str | None = None, timeout: float = 10.0, export_mvs: bool = True) -> Source:
    """Open a V4L2 camera; size "WxH", input_format e.g. "mjpeg" or "yuyv422". Raises SourceError."""
    import av

    device = camera_device(spec)
    if device is None:
        raise SourceError(f"{spec}: not a camera name (use cameraN or /dev/videoN)")
    name = spec if spec == device else f"{spec} ({device})"
    if not os.path.exists(device):
        raise SourceError(f"{name}: no such camera device")
    options = {}
    if size:
        options["video_size"] = size
    if fps:
        options["framerate"] = str(fps)
    if input_format:
        options["input_format"] = input_format
    try:
        container = av.open(device, format="v4l2", options=options, timeout=(timeout, timeout))
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceError(f"{name}: cannot open the camera ({ffmpeg_cause(exc)})") from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{name}: the device has no video stream")
    return Source(container, name=name, is_live=True, export_mvs=export_mvs)
