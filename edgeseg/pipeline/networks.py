"""A bundle's feature and task networks on a backend, as the segmenter's `Networks`.

Usage: ``nets, bundle = open_networks(None, backend="auto")`` (None = the shipped reference model)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeseg.bundle import Bundle, load_bundle
from edgeseg.errors import BundleError


def default_bundle_path() -> Path:
    """The reference model's bundle shipped in the `edgeseg_models` package."""
    from edgeseg_models.reference import BUNDLE_PATH

    return BUNDLE_PATH


class BackendNetworks:
    """Networks over a backend's runners, by the bundle's tensor names. Batched calls pass through."""

    def __init__(self, backend, bundle: Bundle):
        self.backend, self.bundle = backend, bundle
        self._feature, self._task = backend.feature, backend.task
        self._fin, self._fout = bundle.feature.input, bundle.feature.output
        self._tin, self._tout = bundle.task.input, bundle.task.output

    def features(self, images: np.ndarray) -> np.ndarray:
        return self._feature.run({self._fin: images})[self._fout]

    def scores(self, features: np.ndarray) -> np.ndarray:
        return self._task.run({self._tin: features})[self._tout]


def open_networks(bundle: Bundle | str | Path | None = None, *, backend: str = "auto",
                  threads: int | None = None) -> tuple[BackendNetworks, Bundle]:
    """Load (and verify) a bundle, open it on a backend; returns (networks, bundle)."""
    from edgeseg.backend import open_backend

    if not isinstance(bundle, Bundle):
        path = Path(bundle) if bundle is not None else default_bundle_path()
        if bundle is None and not (path / "manifest.json").exists():
            raise BundleError(f"{path}: the reference bundle is not installed; pass --model BUNDLE")
        bundle = load_bundle(path)
    return BackendNetworks(open_backend(bundle, kind=backend, threads=threads), bundle), bundle
