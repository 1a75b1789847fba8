"""The kinds of backend, each declared once (BACKENDS), and opening a bundle on one: TensorRT, onnxruntime CUDA
or onnxruntime CPU, or the best one here ("auto").

Usage: ``be = open_backend("bundle/", kind="auto", threads=2); f = be.features(x); s = be.scores(f)``

A new backend is a Runner (edgeseg.backend.base) and a ``BACKENDS.register(name, BackendKind(...))`` here: the
CLI's ``--backend``, the service's ``backend`` key, ``auto`` (registration order is preference) and
``edgeseg verify`` (kinds on a device) take it from there.
"""

from __future__ import annotations

import functools
from pathlib import Path

from edgeseg.backend.base import Backend, BackendKind
from edgeseg.backend.sized import ort_sized, trt_sized
from edgeseg.errors import ConfigError
from edgeseg.registry import Registry

AUTO = "auto"  # the first kind available here, in registration order


def _trt_unavailable() -> str | None:
    from edgeseg.backend import engines

    return engines.unavailable_reason()


def _build_trt(bundle, *, precision, log) -> dict:
    from edgeseg.backend import engines

    return engines.build_engines(bundle, precision=precision or bundle.precision, log=log)


def _open_trt(kind: BackendKind, bundle, paths: dict, *, threads, precision) -> Backend:
    from edgeseg.backend import engines
    from edgeseg.backend.trt import TrtRunner

    precision = precision or bundle.precision
    sources = {net: src for net, (src, _flag) in engines.sources(bundle, precision, engines.trt_major()).items()}
    return Backend(kind=kind, feature=TrtRunner(paths["feature"]), task=TrtRunner(paths["task"]),
                   task_labels=TrtRunner(paths["task_labels"]) if "task_labels" in paths else None, bundle=bundle,
                   precision=precision, sources=sources)


def _cuda_unavailable() -> str | None:
    from edgeseg.backend.ort import cuda_available

    return None if cuda_available() else ("onnxruntime-gpu with a CUDA GPU and CuPy are needed "
                                          "(pip install 'edgeseg[gpu]')")


def _open_ort(kind: BackendKind, bundle, _built, *, threads, precision, device: str) -> Backend:
    from edgeseg.backend.ort import OrtRunner

    precision = precision or (bundle.precision if device != "cpu" else "fp32")  # CPU runs fp32 unless asked
    variant = precision if precision != "int8" or device == "cpu" else "fp32"  # Q/DQ: TensorRT or CPU

    def runner(key):
        spec = bundle.net(key, variant)
        return None if spec is None else OrtRunner(spec.file, device=device, threads=threads)

    return Backend(kind=kind, feature=runner("feature"), task=runner("task"), task_labels=runner("task_labels"),
                   bundle=bundle, precision=variant, threads=threads,
                   sources={"feature": bundle.net("feature", variant).file})


BACKENDS: Registry[BackendKind] = Registry("backend")
for _kind in (BackendKind(name="trt", build=_build_trt, open=_open_trt, unavailable=_trt_unavailable,
                          on_device=True, resize=trt_sized),
              BackendKind(name="ort-cuda", open=functools.partial(_open_ort, device="cuda"),
                          unavailable=_cuda_unavailable, on_device=True, resize=ort_sized),
              BackendKind(name="ort-cpu", open=functools.partial(_open_ort, device="cpu"), resize=ort_sized)):
    BACKENDS.register(_kind.name, _kind)


def backend_choices() -> tuple[str, ...]:
    """What --backend and the service's backend key accept: auto and every registered kind."""
    return (AUTO, *BACKENDS.names())


def available_kinds() -> list[str]:
    """Backends usable on this machine, best first (registration order)."""
    return [name for name in BACKENDS.names() if BACKENDS.get(name).unavailable() is None]


def open_backend(bundle, kind: str = AUTO, threads: int | None = None, *, precision: str | None = None,
                 log=None) -> Backend:
    """bundle: a Bundle or a bundle directory. kind: auto or a registered kind (trt | ort-cuda | ort-cpu).
    threads: CPU threads (ort-cpu). precision: which ONNX variant GPU backends use (default: the bundle's
    precision; CPU runs fp32 unless asked). TensorRT engines are built on first use when missing."""
    from edgeseg.backend.bundle import Bundle, load_bundle

    if not isinstance(bundle, Bundle):
        bundle = load_bundle(Path(bundle))
    if kind not in backend_choices():
        raise ConfigError(f"backend {kind!r}: choose one of {', '.join(backend_choices())}")
    entry = BACKENDS.get(available_kinds()[0] if kind == AUTO else kind)
    why = entry.unavailable()
    if why:
        raise ConfigError(f"backend {entry.name}: {why}")
    built = entry.build(bundle, precision=precision, log=log) if entry.build is not None else None
    return entry.open(entry, bundle, built, threads=threads, precision=precision)
