"""Inference backends behind one runner interface (onnxruntime CPU/CUDA, TensorRT).

Usage: ``from edgeseg.backend import open_backend; be = open_backend(bundle, kind="auto", threads=2)``
GPU libraries (onnxruntime-gpu's CUDA provider, TensorRT, CuPy) are imported only when a GPU backend opens.
"""

from edgeseg.backend.base import Backend, Runner
from edgeseg.backend.open import KINDS, available_kinds, open_backend

__all__ = ["KINDS", "Backend", "Runner", "available_kinds", "open_backend"]
