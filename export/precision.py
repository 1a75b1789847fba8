"""Reduced-precision ONNX variants: fp16 (float16 inside, float32 I/O) and int8 Q/DQ from calibration frames.

Usage: ``to_fp16("feature.onnx", "feature.fp16.onnx")``; ``to_qdq("feature.onnx", "feature.int8.onnx", images)``

TensorRT 11 builds strongly typed networks (no precision flags), so its precision must be in the ONNX:
these files are what it builds from. TensorRT 10 builds from the fp32 files with builder flags instead
(int8: entropy calibrator over the bundle's ``calib.npy``, see edgeseg.backend.engines).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgeseg_export.checkpoint import first_line

from edgeseg.errors import ExportError

FP16_TOLERANCE = 0.05  # fp16 parity: max |Δscore| ≤ 0.05 · max(1, max |score|) (fp32: 1e-3 absolute)
MAX_CALIB_FRAMES = 16


def to_fp16(src: str | Path, dst: str | Path) -> Path:
    """float32 → float16 weights and activations; inputs/outputs stay float32 (same I/O contract)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True, disable_shape_infer=False)
    onnx.save(model, str(dst))
    return Path(dst)


def calibration_images(source: str, *, input_hw: tuple[int, int], mean, std, limit: int = MAX_CALIB_FRAMES):
    """Up to `limit` frames of a video source, evenly spread over its first 10·limit frames, as uint8
    (N, H, W, 3) RGB at the model's size (normalisation happens where they are used)."""
    from edgeseg.errors import SourceError
    from edgeseg.source import open_source

    images = []
    try:
        with open_source(source, export_mvs=False) as src:
            for i, frame in enumerate(src):
                if i >= 10 * limit or len(images) >= limit:
                    break
                if i % 10:
                    continue
                images.append(resize_rgb(frame.image, input_hw))
    except SourceError as exc:
        raise ExportError(f"--calib: {exc}") from None
    if not images:
        raise ExportError(f"--calib {source}: no frames decoded")
    return np.stack(images)


def resize_rgb(rgb: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Bilinear (half-pixel, like the runtime's preprocessing) resize of an (H, W, 3) uint8 image."""
    def taps(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        i0 = np.floor(src).astype(np.intp)
        return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(np.float32)

    if rgb.shape[:2] == tuple(hw):
        return np.ascontiguousarray(rgb, np.uint8)
    r0, r1, wr = taps(rgb.shape[0], hw[0])
    c0, c1, wc = taps(rgb.shape[1], hw[1])
    img = rgb.astype(np.float32)
    rows = img[r0] * (1 - wr)[:, None, None] + img[r1] * wr[:, None, None]
    out = rows[:, c0] * (1 - wc)[None, :, None] + rows[:, c1] * wc[None, :, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def normalise(images: np.ndarray, mean, std) -> np.ndarray:
    """uint8 (N, H, W, 3) RGB → float32 (N, 3, H, W) network input."""
    x = images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
    return ((x - np.asarray(mean, np.float32)[:, None, None]) / np.asarray(std, np.float32)[:, None, None]).astype(
        np.float32)


def to_qdq(src: str | Path, dst: str | Path, inputs: dict[str, np.ndarray]) -> Path:
    """Static int8 quantisation with QuantizeLinear/DequantizeLinear pairs (per-channel weights), calibrated
    on `inputs` = {input_name: (N, ...) float32}, one sample at a time."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    name, data = next(iter(inputs.items()))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(data[i:i + 1] for i in range(len(data)))

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    try:
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"{Path(src).name}: int8 quantisation failed ({type(exc).__name__}: "
                          f"{first_line(exc, 160)})") from None
    return Path(dst)
