"""The one builder every entry point uses: a spec and a model → a segmenter, and a source → its motion.

Usage::

    spec = SegmentSpec(mode="interp", keyframe_interval=10)
    nets, bundle = open_networks(None)
    for result in segment_frames("clip.mp4", spec, nets=nets, bundle=bundle):
        result.labels
"""

from __future__ import annotations

from collections.abc import Iterator

from edgeseg.backend.bundle import Bundle
from edgeseg.pipeline.result import Result
from edgeseg.pipeline.segmenter import Segmenter
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.schedule.policy import KeyframePolicy


def build_segmenter(spec: SegmentSpec, *, nets, bundle: Bundle, policy: KeyframePolicy | None = None) -> Segmenter:
    """A segmenter for one stream. nets: edgeseg.backend.Networks (open_networks, or the service's batcher
    client); policy: the keyframe policy (default: a new one from the spec)."""
    return Segmenter(nets, spec=spec, input_hw=bundle.input_hw, mean=bundle.mean, std=bundle.std, policy=policy,
                     align_corners=bundle.align_corners)


def open_for(spec: SegmentSpec, uri: str, **options):
    """Open a source (edgeseg.source.open_source) with the motion-vector export the spec's mode needs."""
    from edgeseg.source import open_source

    return open_source(uri, export_mvs=spec.needs_vectors, **options)


def motion_pairs(source, spec: SegmentSpec):
    """(frame, field) pairs for the spec's mode (its plan's motion): block motion vectors, optical flow, or none."""
    motion = spec.plan.motion
    if motion is None:
        return ((frame, None) for frame in source)
    if motion == "flow":
        from edgeseg.motion.flow import OpticalFlowFields

        return OpticalFlowFields(stride=spec.motion_stride).fields(source)
    from edgeseg.motion.dense import MotionFieldBuilder

    return MotionFieldBuilder(stride=spec.motion_stride).fields(source)


def segment_frames(uri: str, spec: SegmentSpec, *, nets, bundle: Bundle) -> Iterator[Result]:
    """Every frame of a source segmented, in display order (no outputs written: see segment_source)."""
    segmenter = build_segmenter(spec, nets=nets, bundle=bundle)
    with open_for(spec, uri) as source:
        for frame, field in motion_pairs(source, spec):
            yield from segmenter.push(frame, field)
        yield from segmenter.flush()
