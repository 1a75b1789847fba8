"""What the segmenter runs: a bundle's two networks behind one small protocol, on the host or on a GPU.

Usage: ``nets, bundle = open_networks(None, backend="auto")`` (None = the shipped reference model);
``feats = nets.features(x); scores = nets.scores(feats)``
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np

from edgeseg.backend.base import Backend
from edgeseg.backend.bundle import Bundle, load_bundle
from edgeseg.errors import BundleError


class Networks(Protocol):
    """The two halves of the model. Batched: several streams may share one instance.

    xp: the array module features come in: numpy, or cupy where they stay on the device (then warps and
    fusion run there too, and `labels` gives each keyframe's label map from the task_labels engine).
    """

    xp: ModuleType

    def features(self, images: np.ndarray):
        """(N, 3, H, W) float32 normalised images → (N, C, h, w) features (xp arrays). H, W: the model's input
        size, or another its feature network runs at (the correction's tiles)."""

    def scores(self, features) -> np.ndarray:
        """(N, C, h, w) features → (N, K, h, w) class scores at feature resolution, on the host."""

    def labels(self, features) -> np.ndarray | None:
        """(1, C, h, w) device features → a host label map at the model's input size; None on the host."""


class HostNetworks:
    """A CPU backend's networks: host arrays in and out; label maps come from the class scores."""

    xp = np

    def __init__(self, backend: Backend):
        self.backend = backend

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.backend.features(images)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return self.backend.scores(features)

    def labels(self, features) -> None:
        return None


class DeviceNetworks:
    """A GPU backend's runners with every array left on the device; only label maps come back to the host.

    The bundle's task_labels network (upsampling + argmax inside the engine) gives labels at the model's
    input size; without it, class scores are copied back and upsampled on the host.
    """

    def __init__(self, backend: Backend):
        import cupy

        self.xp, self.backend = cupy, backend
        self._t, self._tl = backend.task, backend.task_labels

    def features(self, images):
        runner = self.backend.feature_runner(images.shape[2:])
        return runner.run({runner.inputs[0]: self.xp.asarray(images)})[runner.outputs[0]]

    def scores(self, features):
        return self._t.run({self._t.inputs[0]: features})[self._t.outputs[0]].get()

    def labels(self, features) -> np.ndarray | None:
        if self._tl is None:
            return None
        return self._tl.run({self._tl.inputs[0]: features})[self._tl.outputs[0]][0].get().astype(np.uint8)


def as_networks(backend: Backend) -> Networks:
    """The segmenter's view of a backend: DeviceNetworks on a GPU backend, HostNetworks on the CPU."""
    return DeviceNetworks(backend) if backend.on_device else HostNetworks(backend)


def default_bundle_path() -> Path:
    """The reference model's bundle shipped in the `edgeseg_models` package."""
    from edgeseg_models.reference import BUNDLE_PATH

    return BUNDLE_PATH


def load_model(bundle: Bundle | str | Path | None = None) -> Bundle:
    """A Bundle, loaded (and verified) from a directory; None = the shipped reference model."""
    if isinstance(bundle, Bundle):
        return bundle
    path = Path(bundle) if bundle is not None else default_bundle_path()
    if bundle is None and not (path / "manifest.json").exists():
        raise BundleError(f"{path}: the reference bundle is not installed; pass --model BUNDLE")
    return load_bundle(path)


def open_networks(bundle: Bundle | str | Path | None = None, *, backend: str = "auto",
                  threads: int | None = None) -> tuple[Networks, Bundle]:
    """Load (and verify) a bundle and open it on a backend; returns (networks, bundle)."""
    from edgeseg.backend.open import open_backend

    bundle = load_model(bundle)
    return as_networks(open_backend(bundle, kind=backend, threads=threads)), bundle
