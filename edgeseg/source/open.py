"""One entry point for every kind of source.

Usage::

    with open_source("clip.mp4") as src:
        for frame, field in MotionFieldBuilder(stride=16).fields(src): ...   # frames with their block motion

"""

from __future__ import annotations

from edgeseg.source.decode import Source


def open_source(spec: str, *, timeout: float = 10.0, export_mvs: bool = True, **camera_options) -> Source:
    """Open `spec`: a file path, an ``rtsp://`` URL, ``cameraN`` / ``/dev/videoN``, or ``demo``.

    timeout: seconds for connecting and for each read (RTSP, cameras). export_mvs: ask the decoder for motion
    vectors (frames of codecs that export none carry ``mvs=None``). camera_options: size, fps, input_format.
    Raises SourceError with a one-line message naming the input.
    """
    from edgeseg.source.camera import camera_device, open_camera

    spec = str(spec)
    if spec == "demo":
        from edgeseg.source.demo import demo_clip_path
        from edgeseg.source.file import open_file

        return open_file(demo_clip_path(), export_mvs=export_mvs)
    if spec.lower().startswith(("rtsp://", "rtsps://")):
        from edgeseg.source.rtsp import open_rtsp

        return open_rtsp(spec, timeout=timeout, export_mvs=export_mvs)
    if camera_device(spec) is not None:
        return open_camera(spec, timeout=timeout, export_mvs=export_mvs, **camera_options)
    from edgeseg.source.file import open_file

    return open_file(spec, export_mvs=export_mvs)
