"""Open a bundle's networks on a backend for the segmenter.

Usage: ``nets, bundle = open_networks(None, backend="auto")`` (None = the shipped reference model)
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.bundle import Bundle, load_bundle
from edgeseg.errors import BundleError


def default_bundle_path() -> Path:
    """The reference model's bundle shipped in the `edgeseg_models` package."""
    from edgeseg_models.reference import BUNDLE_PATH

    return BUNDLE_PATH


def open_networks(bundle: Bundle | str | Path | None = None, *, backend: str = "auto",
                  threads: int | None = None):
    """Load (and verify) a bundle, open it on a backend; returns (backend, bundle).

    The backend (edgeseg.backend.Backend) is the segmenter's `Networks`: features() and scores().
    """
    from edgeseg.backend import open_backend

    if not isinstance(bundle, Bundle):
        path = Path(bundle) if bundle is not None else default_bundle_path()
        if bundle is None and not (path / "manifest.json").exists():
            raise BundleError(f"{path}: the reference bundle is not installed; pass --model BUNDLE")
        bundle = load_bundle(path)
    return open_backend(bundle, kind=backend, threads=threads), bundle
