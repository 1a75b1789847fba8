"""Inference backends behind one runner interface (onnxruntime CPU/CUDA, TensorRT).

Usage: ``from edgeseg.backend import open_networks; nets, bundle = open_networks("bundle/", backend="auto")``
(the segmenter's view: edgeseg.backend.networks); ``open_backend(bundle, kind="auto")`` gives the runners.
The kinds (BACKENDS, edgeseg.backend.open) say what each is: on a device or not, batching, other input sizes.
GPU libraries (onnxruntime-gpu's CUDA provider, TensorRT, CuPy) are imported only when a GPU backend opens.
"""

from edgeseg.backend.base import Backend, BackendKind, Runner
from edgeseg.backend.networks import DeviceNetworks, HostNetworks, Networks, as_networks, open_networks
from edgeseg.backend.open import AUTO, BACKENDS, available_kinds, backend_choices, open_backend

__all__ = ["AUTO", "BACKENDS", "Backend", "BackendKind", "DeviceNetworks", "HostNetworks", "Networks", "Runner",
           "as_networks", "available_kinds", "backend_choices", "open_backend", "open_networks"]
