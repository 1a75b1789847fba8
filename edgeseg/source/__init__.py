"""Video sources: files, RTSP, V4L2 cameras and the embedded demo clip, all as ``Frame`` iterators."""

from edgeseg.source.frame import MV_COLUMNS, Frame

__all__ = ["Frame", "MV_COLUMNS"]
