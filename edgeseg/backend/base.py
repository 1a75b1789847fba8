"""The runner interface every backend implements, what a kind of backend is (BackendKind: registered in
edgeseg.backend.open), and the Backend that groups a bundle's three networks on one kind.

Usage: ``out = runner.run({"image": x})["feature"]``; ``backend.features(x)`` / ``backend.scores(f)`` (host arrays);
``backend.close()`` releases its sessions or engines (``with open_backend(bundle) as backend: ...`` closes it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class Runner(ABC):
    """One network. Contract: run() takes every input by name and returns every output by name; arrays are
    NumPy on CPU runners, CuPy (device) or NumPy on GPU runners, which return CuPy arrays."""

    inputs: list[str]
    outputs: list[str]

    @abstractmethod
    def run(self, feeds: dict) -> dict:
        """{input name: array} → {output name: array}."""

    def close(self) -> None:  # noqa: B027 - runners without resources of their own have nothing to release
        """Release what the runner holds (a session, an engine and its context); it cannot run afterwards."""


def to_host(a) -> np.ndarray:
    """NumPy view of a NumPy or CuPy array (copies from the device)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


@dataclass(frozen=True, kw_only=True)
class BackendKind:
    """What a kind of backend is and how it opens, registered under its name in edgeseg.backend.open.BACKENDS.

    Opening is two steps (as Polygraphy's loaders and runners): ``build(bundle, precision=, log=)`` makes what
    the runners load (TensorRT: the engines, built once and cached), ``open(kind, bundle, built, threads=,
    precision=)`` loads them into a Backend; a Backend's ``close()`` releases them again.
    """

    name: str
    open: Callable  # (kind, bundle, built, *, threads, precision) → Backend
    build: Callable | None = None  # (bundle, *, precision, log) → what open loads; None: open reads the bundle
    unavailable: Callable[[], str | None] = lambda: None  # why it cannot open here (one phrase), or None
    on_device: bool = False  # its arrays stay on a GPU (CuPy): DeviceNetworks, warps and fusion on the device
    batches: bool = True  # the feature network takes several images per call (the service batches keyframes)
    resize: Callable | None = None  # (backend, (H, W)) → a feature runner at that input size; None: its own only


@dataclass
class Backend:
    """A bundle's networks on one kind of backend (its name: "ort-cpu", "ort-cuda", "trt", …). The feature
    network also runs at other input sizes where the kind can resize it (tiles, edgeseg.backend.sized): a runner
    per size, made on first use."""

    kind: BackendKind
    feature: Runner
    task: Runner
    task_labels: Runner | None
    bundle: object  # edgeseg.backend.bundle.Bundle
    precision: str = "fp32"  # the ONNX variant (onnxruntime) or the engines' precision (TensorRT)
    threads: int | None = None
    sources: dict[str, Path] = field(default_factory=dict)  # net → the ONNX file it runs (or was built from)
    _sized: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def on_device(self) -> bool:
        return self.kind.on_device

    def close(self) -> None:
        """Release every runner (sessions, engines); the backend cannot run afterwards."""
        for runner in (self.feature, self.task, self.task_labels, *self._sized.values()):
            if runner is not None:
                runner.close()
        self._sized.clear()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def source(self, net: str) -> Path:
        return self.sources.get(net) or self.bundle.net(net).file

    def feature_runner(self, hw: tuple[int, int]) -> Runner:
        """The feature network for (H, W) inputs: the bundle's own at its input size, else a sized one."""
        if tuple(hw) == tuple(self.bundle.input_hw):
            return self.feature
        if tuple(hw) not in self._sized:
            if self.kind.resize is None:
                raise ValueError(f"backend {self.name} runs the feature network at {self.bundle.input_hw} only")
            self._sized[tuple(hw)] = self.kind.resize(self, hw)
        return self._sized[tuple(hw)]

    def features(self, images) -> np.ndarray:
        """(N, 3, H, W) float32 normalised images → (N, C, h, w) float32 features on the host. H, W: the model's
        input size, or any other its feature network runs at (tiles)."""
        runner = self.feature_runner(images.shape[2:])
        return to_host(runner.run({runner.inputs[0]: images})[runner.outputs[0]])

    def scores(self, features) -> np.ndarray:
        """(N, C, h, w) features → (N, K, h, w) class scores at feature resolution, on the host."""
        return to_host(self.task.run({self.task.inputs[0]: features})[self.task.outputs[0]])

    def labels(self, features) -> np.ndarray:
        """(N, C, h, w) features → (N, H, W) uint8 labels at the model's input size (task_labels network)."""
        if self.task_labels is None:
            raise RuntimeError("this bundle has no task_labels network")
        return to_host(self.task_labels.run({self.task_labels.inputs[0]: features})[self.task_labels.outputs[0]])
