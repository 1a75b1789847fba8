"""Shared test setup: the `gpu` marker skips cleanly where no CUDA GPU is present."""

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
