"""Inference backends behind one runner interface (onnxruntime CPU/CUDA, TensorRT).

Usage: ``from edgeseg.backend import open_networks; nets, bundle = open_networks("bundle/", backend="auto")``
(the segmenter's view: edgeseg.backend.networks); ``open_backend(bundle, kind="auto")`` gives the runners.
GPU libraries (onnxruntime-gpu's CUDA provider, TensorRT, CuPy) are imported only when a GPU backend opens.
"""

from edgeseg.backend.base import Backend, Runner
from edgeseg.backend.networks import DeviceNetworks, HostNetworks, Networks, as_networks, open_networks
from edgeseg.backend.open import KINDS, available_kinds, open_backend

__all__ = ["KINDS", "Backend", "DeviceNetworks", "HostNetworks", "Networks", "Runner", "as_networks",
           "available_kinds", "open_backend", "open_networks"]
