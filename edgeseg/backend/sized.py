"""A bundle's feature network at another input size (the correction's tiles, edgeseg.pipeline.correct): the
ONNX file with its input's height and width set to the new size, for onnxruntime (in memory) or TensorRT (an
engine built once, cached beside the bundle's engines). Static shapes with a dynamic batch, as TensorRT wants.

Usage: ``runner = backend.feature_runner((192, 192))``; ``runner.run({runner.inputs[0]: tiles})`` (the backend's
kind resizes with ort_sized or trt_sized)
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeseg.errors import BundleError, ConfigError


def resized_onnx(path: str | Path, hw: tuple[int, int]) -> bytes:
    """The ONNX model at `path` with its first input's H, W (axes 2, 3) set to hw and every other shape left for
    the runtime to infer; serialized. Fully convolutional networks run unchanged at the new size."""
    try:
        import onnx
    except ImportError:
        raise ConfigError("--correct needs the onnx package, a dependency of edgeseg: pip install onnx") from None
    model = onnx.load(str(path))
    initializers = {i.name for i in model.graph.initializer}
    graph_input = next(i for i in model.graph.input if i.name not in initializers)
    dims = graph_input.type.tensor_type.shape.dim
    if len(dims) != 4:
        raise BundleError(f"{path}: input {graph_input.name} is not NCHW; it cannot run on tiles")
    dims[2].dim_value, dims[3].dim_value = int(hw[0]), int(hw[1])
    for out in model.graph.output:  # spatial output sizes follow from the input's
        for k, d in enumerate(out.type.tensor_type.shape.dim):
            if k >= 2:
                d.dim_param = f"{out.name}_{k}"
    del model.graph.value_info[:]
    return model.SerializeToString()


def ort_sized(backend, hw: tuple[int, int]):
    """An onnxruntime runner (edgeseg.backend.base.Runner) of the backend's feature network at input size hw
    (N free), on the device its own feature runner uses. A model that cannot run at that size is a one-line
    error."""
    from edgeseg.backend.ort import OrtRunner

    hw, source = (int(hw[0]), int(hw[1])), backend.source("feature")
    runner = OrtRunner(resized_onnx(source, hw), device=backend.feature.device, threads=backend.threads,
                       name=f"{source} at {hw[0]}×{hw[1]}")
    _check_runs(runner, backend.bundle, hw, source)
    return runner


def _check_runs(runner, bundle, hw, source) -> None:
    import numpy as np

    x = np.zeros((1, 3, *hw), np.float32)
    try:
        out = runner.run({runner.inputs[0]: x})[runner.outputs[0]]
    except Exception as exc:  # noqa: BLE001 - e.g. a Reshape with the training size baked in
        from edgeseg.backend.ort import ort_cause

        cause = getattr(exc, "cause", None) or ort_cause(exc)  # OrtRunner's BundleError keeps onnxruntime's
        raise BundleError(f"{source}: the feature network cannot run on {hw[0]}×{hw[1]} tiles "
                          f"({cause}); run without --correct") from None
    if tuple(out.shape[1:2]) != (bundle.feature_shape[0],):
        raise BundleError(f"{source}: at {hw[0]}×{hw[1]} the feature network gives {tuple(out.shape)}; "
                          "run without --correct")


def trt_sized(backend, hw: tuple[int, int]):
    """A TensorRT runner of the backend's feature network at input size hw (N free): an engine built on first
    use and cached beside the bundle's engines."""
    from edgeseg.backend import engines
    from edgeseg.backend.trt import TrtRunner

    hw, source = (int(hw[0]), int(hw[1])), backend.source("feature")
    precision = backend.precision
    d = engines.engine_dir(backend.bundle, engines.device_key(precision))
    onnx_path, engine = d / f"feature_{hw[0]}x{hw[1]}.onnx", d / f"feature_{hw[0]}x{hw[1]}.engine"
    stamp = d / f"feature_{hw[0]}x{hw[1]}.json"
    digest = backend.bundle.manifest["files"].get(engines.rel(backend.bundle, source))
    fresh = engine.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("onnx_sha256") == digest
    if not fresh:
        onnx_path.write_bytes(resized_onnx(source, hw))
        flag = engines.sources(backend.bundle, precision, engines.trt_major())["feature"][1]
        calib = engines.calibrator(backend.bundle, d / "calib.cache") if flag == "int8" else None
        engine.write_bytes(engines.build_serialized(onnx_path, flag=flag, timing_cache=d / "timing.cache",
                                                    calibrator=calib))
        stamp.write_text(json.dumps({"onnx_sha256": digest, "input_hw": list(hw)}) + "\n")
    return TrtRunner(engine)
