"""onnxruntime runners: CPU (thread count) and CUDA (IO binding on CuPy device arrays).

Usage: ``r = OrtRunner("feature.onnx", threads=2); r.run({"image": x})``;
``r = OrtRunner("feature.onnx", device="cuda"); r.run({"image": cupy_x})`` → CuPy outputs
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from edgeseg.backend.base import Runner
from edgeseg.errors import BundleError

_NP = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
       "tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(int8)": np.int8}


def cuda_available() -> bool:
    """onnxruntime has the CUDA provider and CuPy is importable."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no CuPy / no driver
        return False


def _ort_errors() -> tuple[type[BaseException], ...]:
    """onnxruntime's own exception types (Fail, InvalidArgument, RuntimeException, ...: no common base)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    return tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))


def ort_cause(exc: BaseException, limit: int = 160) -> str:
    """onnxruntime's message in one line: without its "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT :" prefix,
    cut after a whole word (with "…") when longer than `limit`."""
    text = " ".join(str(exc).split())
    text = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*", "", text) or type(exc).__name__
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


class OrtRunner(Runner):
    """One ONNX file (or serialized model bytes, then `name` names it in errors) in an onnxruntime session.
    device: "cpu" or "cuda".

    spin: let idle intra-op threads busy-wait for the next call (onnxruntime's default). Off here: between
    calls the pipeline decodes, warps and upsamples on the same cores, and spinning threads take them away
    (measured on 2 cores: frame mode 33 → 60 fps, interp 162 → 269 fps with spinning off; docs/DECISIONS.md).
    """

    def __init__(self, path: str | Path | bytes, *, device: str = "cpu", threads: int | None = None,
                 device_id: int = 0, spin: bool = False, name: str | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        providers = (["CPUExecutionProvider"] if device == "cpu"
                     else [("CUDAExecutionProvider", {"device_id": device_id}), "CPUExecutionProvider"])
        try:
            self.session = ort.InferenceSession(path if isinstance(path, bytes) else str(path), opts,
                                                providers=providers)
        except Exception as exc:  # noqa: BLE001 - corrupt or unsupported model file
            raise BundleError(f"{name or path}: onnxruntime cannot load it ({ort_cause(exc)})") from None
        self.name = name or str(path)
        self.device, self.device_id = device, device_id
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self._in_types = {i.name: _NP.get(i.type, np.float32) for i in self.session.get_inputs()}

    def run(self, feeds: dict) -> dict:
        """Every output by name. onnxruntime's refusal of the inputs (a network that does not fit what the
        pipeline feeds it, e.g. another rank or size) is a one-line BundleError naming the network file."""
        try:
            if self.device == "cpu":
                feeds = {k: np.ascontiguousarray(v, dtype=self._in_types[k]) for k, v in feeds.items()}
                return dict(zip(self.outputs, self.session.run(self.outputs, feeds), strict=True))
            return self._run_cuda(feeds)
        except _ort_errors() as exc:
            shapes = ", ".join(f"{k} {'×'.join(map(str, v.shape))}" for k, v in feeds.items())
            err = BundleError(f"{self.name}: onnxruntime cannot run this network of the bundle on its input "
                              f"({shapes}): {ort_cause(exc)}")
            err.cause = ort_cause(exc)  # onnxruntime's words alone, for callers that add their own context
            raise err from None

    def close(self) -> None:
        """Drop the onnxruntime session (its memory, and its device memory on CUDA, goes with it)."""
        self.session = None

    def _run_cuda(self, feeds: dict) -> dict:
        import cupy as cp

        binding = self.session.io_binding()
        keep = []
        with cp.cuda.Device(self.device_id):
            for name, value in feeds.items():
                x = cp.ascontiguousarray(cp.asarray(value, dtype=self._in_types[name]))
                keep.append(x)
                binding.bind_input(name, "cuda", self.device_id, x.dtype.type, list(x.shape), x.data.ptr)
            for name in self.outputs:
                binding.bind_output(name, "cuda", self.device_id)
            cp.cuda.get_current_stream().synchronize()
            self.session.run_with_iobinding(binding)
            out = {}
            for name, value in zip(self.outputs, binding.get_outputs(), strict=True):
                dtype = _NP.get(value.data_type(), np.float32)  # e.g. "tensor(float)"
                arr = cp.empty(tuple(value.shape()), dtype=dtype)
                cp.cuda.runtime.memcpy(arr.data.ptr, value.data_ptr(), arr.nbytes,
                                       cp.cuda.runtime.memcpyDeviceToDevice)
                out[name] = arr
        return out
