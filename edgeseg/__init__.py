"""edgeseg: fast semantic segmentation of video with block-motion feature interpolation.

On the command line: ``edgeseg run demo``. In Python:

Usage::

    from edgeseg import SegmentSpec, open_networks, segment_frames
    nets, bundle = open_networks(None)          # None: the shipped reference model, onnxruntime on the CPU
    for result in segment_frames("clip.mp4", SegmentSpec(mode="interp"), nets=nets, bundle=bundle):
        print(result.frame.index, result.keyframe, result.labels.shape)

The names below load on first use; the runtime never imports torch, and TensorRT, CuPy and onnxruntime are
imported where they are used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name → the module that defines it (imported on first access: `import edgeseg` stays cheap)
_EXPORTS = {
    "SegmentSpec": "edgeseg.pipeline.spec",
    "Segmenter": "edgeseg.pipeline.segmenter",
    "Result": "edgeseg.pipeline.result",
    "build_segmenter": "edgeseg.pipeline.build",
    "motion_pairs": "edgeseg.pipeline.build",
    "open_for": "edgeseg.pipeline.build",
    "segment_frames": "edgeseg.pipeline.build",
    "segment_source": "edgeseg.pipeline.session",
    "OutputSpec": "edgeseg.sink.outputs",
    "run_stream": "edgeseg.pipeline.run",
    "RunSummary": "edgeseg.pipeline.run",
    "open_source": "edgeseg.source.open",
    "Frame": "edgeseg.source.frame",
    "MotionField": "edgeseg.motion.field",
    "MotionFieldBuilder": "edgeseg.motion.dense",
    "make_policy": "edgeseg.schedule",
    "open_networks": "edgeseg.backend.networks",
    "open_backend": "edgeseg.backend.open",
    "load_bundle": "edgeseg.backend.bundle",
    "EdgesegError": "edgeseg.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
