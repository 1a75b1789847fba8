"""Video sources: files, RTSP, V4L2 cameras and the embedded demo clip, all as ``Frame`` iterators.

Usage: ``from edgeseg.source import open_source``; ``with open_source("clip.mp4") as src: ...``
"""

from edgeseg.source.decode import Source, SourceInfo, SourceStats
from edgeseg.source.frame import MV_COLUMNS, Frame
from edgeseg.source.open import open_source

__all__ = ["Frame", "MV_COLUMNS", "Source", "SourceInfo", "SourceStats", "open_source"]
