"""The per-stream pipeline: one settings object (SegmentSpec), one builder, the segmenter core and its
strategies, and the run loop that feeds sinks.

Usage::

    from edgeseg.pipeline import SegmentSpec, segment_frames
    from edgeseg.backend import open_networks
    nets, bundle = open_networks(None)
    for result in segment_frames("clip.mp4", SegmentSpec(mode="interp"), nets=nets, bundle=bundle): ...
"""

from edgeseg.pipeline.build import build_segmenter, motion_pairs, open_for, segment_frames
from edgeseg.pipeline.interpolate import FUSIONS
from edgeseg.pipeline.modes import MODES, ModePlan
from edgeseg.pipeline.propagate import PROPAGATIONS
from edgeseg.pipeline.result import Result, StageTimes
from edgeseg.pipeline.run import RunSummary, run_stream
from edgeseg.pipeline.segmenter import Segmenter
from edgeseg.pipeline.session import segment_source
from edgeseg.pipeline.spec import SegmentSpec

__all__ = ["FUSIONS", "MODES", "PROPAGATIONS", "ModePlan", "Result", "RunSummary", "SegmentSpec", "Segmenter",
           "StageTimes", "build_segmenter", "motion_pairs", "open_for", "run_stream", "segment_frames",
           "segment_source"]
