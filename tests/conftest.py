"""Shared test setup: the `gpu` marker skips cleanly where no CUDA GPU is present."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _cuda_gpu_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10)
    except Exception:  # noqa: BLE001
        return False
    return out.returncode == 0 and "GPU" in out.stdout


HAS_GPU = _cuda_gpu_present()


def pytest_collection_modifyitems(config, items):
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
