"""Fixtures for scheduling tests in the pipeline: a street clip with a scene cut (the colour bundle is shared)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def street_clip(tmp_path_factory):
    """A held-out synthetic street clip (video + labels) with a scene cut at frame 20."""
    from edgeseg.synth.clip import render_clip

    return render_clip(tmp_path_factory.mktemp("street") / "clip", frames=40, seed=9003, bframes=2, cuts=[20])
