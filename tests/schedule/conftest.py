"""Fixtures for scheduling tests in the pipeline: a content-driven test bundle and a street clip."""

from __future__ import annotations

import pytest

from edgeseg.pipeline.networks import open_networks


@pytest.fixture(scope="session")
def colour(tmp_path_factory):
    """(backend, bundle) of a content-driven test model (labels follow local colour; no training needed)."""
    import color_bundle

    return open_networks(color_bundle.make(tmp_path_factory.mktemp("colour"), size=(360, 480)),
                         backend="ort-cpu", threads=2)


@pytest.fixture(scope="session")
def street_clip(tmp_path_factory):
    """A held-out synthetic street clip (video + labels) with a scene cut at frame 20."""
    from edgeseg.synth.clip import render_clip

    return render_clip(tmp_path_factory.mktemp("street") / "clip", frames=40, seed=9003, bframes=2, cuts=[20])
