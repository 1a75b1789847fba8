"""edgeseg: fast semantic segmentation of video with block-motion feature interpolation.

Usage: ``edgeseg run demo`` (CLI) or ``from edgeseg import open_source``.

The runtime never imports torch; TensorRT, CuPy and onnxruntime are imported lazily where used.
"""

__version__ = "0.1.0"
