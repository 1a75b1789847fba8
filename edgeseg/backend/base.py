"""The runner interface every backend implements, and the Backend that groups a bundle's three networks.

Usage: ``out = runner.run({"image": x})["feature"]``; ``backend.features(x)`` / ``backend.scores(f)`` (host arrays)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class Runner(ABC):
    """One network. Contract: run() takes every input by name and returns every output by name; arrays are
    NumPy on CPU runners, CuPy (device) or NumPy on GPU runners, which return CuPy arrays."""

    inputs: list[str]
    outputs: list[str]

    @abstractmethod
    def run(self, feeds: dict) -> dict:
        """{input name: array} → {output name: array}."""


def to_host(a) -> np.ndarray:
    """NumPy view of a NumPy or CuPy array (copies from the device)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


@dataclass
class Backend:
    """A bundle's networks on one backend. name: "ort-cpu", "ort-cuda" or "trt"."""

    name: str
    feature: Runner
    task: Runner
    task_labels: Runner | None
    bundle: object  # edgeseg.backend.bundle.Bundle

    @property
    def on_device(self) -> bool:
        return self.name != "ort-cpu"

    def features(self, images) -> np.ndarray:
        """(N, 3, H, W) float32 normalised images → (N, C, h, w) float32 features on the host."""
        return to_host(self.feature.run({self.feature.inputs[0]: images})[self.feature.outputs[0]])

    def scores(self, features) -> np.ndarray:
        """(N, C, h, w) features → (N, K, h, w) class scores at feature resolution, on the host."""
        return to_host(self.task.run({self.task.inputs[0]: features})[self.task.outputs[0]])

    def labels(self, features) -> np.ndarray:
        """(N, C, h, w) features → (N, H, W) uint8 labels at the model's input size (task_labels network)."""
        if self.task_labels is None:
            raise RuntimeError("this bundle has no task_labels network")
        return to_host(self.task_labels.run({self.task_labels.inputs[0]: features})[self.task_labels.outputs[0]])
