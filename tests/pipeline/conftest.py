"""Fixtures for pipeline tests: the shipped reference bundle and a street clip (the colour bundle is shared)."""

from __future__ import annotations

import pytest

from edgeseg.backend.networks import default_bundle_path, open_networks


@pytest.fixture(scope="session")
def reference():
    """(backend, bundle) of the shipped reference model on onnxruntime CPU."""
    return open_networks(default_bundle_path(), backend="ort-cpu", threads=2)


@pytest.fixture(scope="session")
def street_clip(tmp_path_factory):
    """A held-out synthetic street clip (video + labels) with ego-motion and moving objects."""
    from edgeseg.synth.clip import render_clip

    return render_clip(tmp_path_factory.mktemp("street") / "clip", frames=36, seed=9001, bframes=2)
