"""TensorRT runner: name-based I/O (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``) on CuPy
device buffers. Works with TensorRT 10 and 11 (the bindings API is not used).

Usage: ``r = TrtRunner("feature.engine"); out = r.run({"image": cupy_or_numpy_x})["feature"]`` (CuPy)
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.backend.base import Runner
from edgeseg.errors import BundleError


def _np_dtype(trt, dt):
    import numpy as np

    pairs = [("float32", np.float32), ("float16", np.float16), ("int32", np.int32), ("int8", np.int8),
             ("uint8", np.uint8), ("bool", np.bool_), ("int64", np.int64)]
    table = {getattr(trt, name): t for name, t in pairs if hasattr(trt, name)}
    if dt not in table:
        raise BundleError(f"engine tensor type {dt} is not supported by the edgeseg TensorRT runner")
    return table[dt]


class TrtRunner(Runner):
    """One deserialized engine and its execution context on the current CUDA device."""

    def __init__(self, engine: str | Path | bytes, *, stream=None):
        import cupy as cp
        import tensorrt as trt

        self._trt, self._cp = trt, cp
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        data = engine if isinstance(engine, bytes) else Path(engine).read_bytes()
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise BundleError(f"{engine if not isinstance(engine, bytes) else 'engine'}: TensorRT cannot "
                              "deserialize it (built for another GPU or TensorRT version?)")
        self.context = self.engine.create_execution_context()
        self.stream = stream or cp.cuda.Stream(non_blocking=True)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self._dtypes = {n: _np_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}

    def close(self) -> None:
        """Release the execution context, the engine and the runtime, in that order (TensorRT's)."""
        self.context = self.engine = self._runtime = None

    def run(self, feeds: dict) -> dict:
        cp = self._cp
        keep = []
        cp.cuda.get_current_stream().synchronize()  # the caller's inputs are complete before TensorRT reads them
        with self.stream:
            for name in self.inputs:
                x = cp.ascontiguousarray(cp.asarray(feeds[name], dtype=self._dtypes[name]))
                keep.append(x)
                self.context.set_input_shape(name, tuple(x.shape))
                self.context.set_tensor_address(name, int(x.data.ptr))
            out = {}
            for name in self.outputs:
                shape = tuple(self.context.get_tensor_shape(name))
                y = cp.empty(shape, dtype=self._dtypes[name])
                self.context.set_tensor_address(name, int(y.data.ptr))
                out[name] = y
            if not self.context.execute_async_v3(self.stream.ptr):
                raise RuntimeError("TensorRT execute_async_v3 failed")
        self.stream.synchronize()
        return out
