"""Shared test setup: the `gpu` marker skips cleanly where no CUDA GPU is present; the content-driven colour bundle;
the guard of the compiled-kernel tests."""

from __future__ import annotations

import os

import pytest

# Tests exercise the compiled kernels from their first call (the default compiles them in a background process
# first); tests of that behaviour set EDGESEG_JIT themselves.
os.environ.setdefault("EDGESEG_JIT", "inline")

from edgeseg.system.info import gpu_info

HAS_GPU = gpu_info()["present"]  # nvidia-smi lists a CUDA GPU


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def numba_kernels():
    """For tests that compare a compiled kernel with its NumPy path: skip where the kernels cannot run
    (numba missing, or switched off with EDGESEG_NO_JIT)."""
    import os

    pytest.importorskip("numba")
    if os.environ.get("EDGESEG_NO_JIT", "") not in ("", "0"):
        pytest.skip("EDGESEG_NO_JIT is set: the compiled kernels are off")


@pytest.fixture(params=["numba", "numpy"])
def jit_mode(request, monkeypatch):
    """Run the test once with the compiled kernels and once with the NumPy paths (EDGESEG_NO_JIT)."""
    from edgeseg.system import jit as jit_module

    monkeypatch.setenv("EDGESEG_NO_JIT", "0" if request.param == "numba" else "1")
    jit_module.reset()
    yield request.param
    jit_module.reset()


@pytest.fixture(scope="session")
def colour(tmp_path_factory):
    """(backend, bundle) of a content-driven test model (labels follow local colour; no training needed)."""
    import color_bundle

    from edgeseg.backend.networks import open_networks

    return open_networks(color_bundle.make(tmp_path_factory.mktemp("colour"), size=(360, 480)),
                         backend="ort-cpu", threads=2)
