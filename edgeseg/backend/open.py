"""Pick and open a backend for a bundle: TensorRT, onnxruntime CUDA or onnxruntime CPU.

Usage: ``be = open_backend("bundle/", kind="auto", threads=2); f = be.features(x); s = be.scores(f)``
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.backend.base import Backend
from edgeseg.backend.sized import sized_runner
from edgeseg.errors import ConfigError

KINDS = ("auto", "trt", "ort-cuda", "ort-cpu")


def available_kinds() -> list[str]:
    """Backends usable on this machine, best first."""
    from edgeseg.backend import engines, ort

    kinds = []
    if engines.unavailable_reason() is None:
        kinds.append("trt")
    if ort.cuda_available():
        kinds.append("ort-cuda")
    return kinds + ["ort-cpu"]


def open_backend(bundle, kind: str = "auto", threads: int | None = None, *, precision: str | None = None,
                 log=None) -> Backend:
    """bundle: a Bundle or a bundle directory. kind: auto | trt | ort-cuda | ort-cpu. threads: CPU threads
    (ort-cpu). precision: which ONNX variant GPU backends use (default: the bundle's precision; CPU runs fp32
    unless asked). TensorRT engines are built on first use when missing."""
    from edgeseg.backend.bundle import Bundle, load_bundle

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(Path(bundle))
    if kind not in KINDS:
        raise ConfigError(f"backend {kind!r}: choose one of {', '.join(KINDS)}")
    if kind == "auto":
        kind = available_kinds()[0]
    if kind == "trt":
        return _open_trt(bundle, precision, log)
    if kind == "ort-cuda":
        from edgeseg.backend.ort import cuda_available

        if not cuda_available():
            raise ConfigError("backend ort-cuda: onnxruntime-gpu with a CUDA GPU and CuPy are needed "
                              "(pip install 'edgeseg[gpu]')")
        return _open_ort(bundle, "cuda", threads, precision or bundle.precision)
    return _open_ort(bundle, "cpu", threads, precision or "fp32")


def _open_ort(bundle, device: str, threads, precision: str) -> Backend:
    from edgeseg.backend.ort import OrtRunner

    variant = precision if precision != "int8" or device == "cpu" else "fp32"  # Q/DQ: TensorRT or CPU

    def runner(key):
        spec = bundle.net(key, variant)
        return None if spec is None else OrtRunner(spec.file, device=device, threads=threads)

    return Backend(name=f"ort-{device}", feature=runner("feature"), task=runner("task"),
                   task_labels=runner("task_labels"), bundle=bundle, precision=variant, threads=threads,
                   sources={"feature": bundle.net("feature", variant).file}, resize=sized_runner)


def _open_trt(bundle, precision, log) -> Backend:
    from edgeseg.backend import engines
    from edgeseg.backend.trt import TrtRunner

    why = engines.unavailable_reason()
    if why:
        raise ConfigError(f"backend trt: {why}")
    precision = precision or bundle.precision
    paths = engines.build_engines(bundle, precision=precision, log=log)
    sources = {net: src for net, (src, _flag) in engines.sources(bundle, precision, engines.trt_major()).items()}
    return Backend(name="trt", feature=TrtRunner(paths["feature"]), task=TrtRunner(paths["task"]),
                   task_labels=TrtRunner(paths["task_labels"]) if "task_labels" in paths else None, bundle=bundle,
                   precision=precision, sources=sources, resize=sized_runner)
