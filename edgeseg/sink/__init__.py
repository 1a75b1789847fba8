"""Outputs: label masks, label videos, overlay video, per-frame stats.

Usage: ``for labels in read_labels("out/clip.mp4/labels.avi"): ...``
"""

from edgeseg.sink.labels import read_labels

__all__ = ["read_labels"]
