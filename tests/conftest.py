"""Shared test setup: the `gpu` marker skips cleanly where no CUDA GPU is present; the content-driven colour bundle."""

from __future__ import annotations

import pytest

from edgeseg.info import gpu_info

HAS_GPU = gpu_info()["present"]  # nvidia-smi lists a CUDA GPU


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def colour(tmp_path_factory):
    """(backend, bundle) of a content-driven test model (labels follow local colour; no training needed)."""
    import color_bundle

    from edgeseg.pipeline.networks import open_networks

    return open_networks(color_bundle.make(tmp_path_factory.mktemp("colour"), size=(360, 480)),
                         backend="ort-cpu", threads=2)
