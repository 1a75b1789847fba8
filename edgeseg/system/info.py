"""What a user needs to know when something is slow or missing: versions, codecs, providers, GPUs.

Usage: ``from edgeseg.system.info import environment; environment()["onnxruntime"]["providers"]``
Contract: never raises; anything missing is reported as {"installed": False}.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
from fractions import Fraction

from edgeseg import __version__

_MISSING = {"installed": False}


def _module(name: str):
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return None


def pyav_info() -> dict:
    av = _module("av")
    if av is None:
        return dict(_MISSING)
    out: dict = {"installed": True, "version": av.__version__}
    try:
        out["ffmpeg"] = {k: ".".join(map(str, v)) if isinstance(v, tuple) else str(v)
                         for k, v in av.library_versions.items()}
    except Exception:  # noqa: BLE001
        out["ffmpeg"] = {}
    out["h264_decoder"] = _codec_available("h264", "r")
    out["hevc_decoder"] = _codec_available("hevc", "r")
    out["libx264_encoder"] = _codec_available("libx264", "w")
    out["h264_motion_vectors"] = _h264_exports_mvs() if out["h264_decoder"] and out["libx264_encoder"] else False
    return out


def _codec_available(name: str, mode: str) -> bool:
    try:
        import av

        av.codec.Codec(name, mode)
        return True
    except Exception:  # noqa: BLE001
        return False


def _h264_exports_mvs() -> bool:
    """Encode two tiny frames with libx264 and check that the decoder exports their motion vectors."""
    try:
        import av
        import numpy as np

        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = 64, 64, "yuv420p"
        enc.time_base = Fraction(1, 25)
        enc.framerate = 25
        enc.options = {"preset": "ultrafast", "bframes": "0", "keyint": "10"}
        rng = np.random.default_rng(0)
        base = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
        packets = []
        for i in range(3):
            img = np.ascontiguousarray(base[i * 2:i * 2 + 64, i * 2:i * 2 + 64])
            packets += enc.encode(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p"))
        packets += enc.encode(None)
        dec = av.CodecContext.create("h264", "r")
        dec.options = {"flags2": "+export_mvs"}
        for packet in packets:
            for frame in dec.decode(packet):
                if frame.side_data.get("MOTION_VECTORS") is not None:
                    return True
        return False
    except Exception:  # noqa: BLE001
        return False


def onnxruntime_info() -> dict:
    ort = _module("onnxruntime")
    if ort is None:
        return dict(_MISSING)
    try:
        providers = list(ort.get_available_providers())
    except Exception:  # noqa: BLE001
        providers = []
    return {"installed": True, "version": ort.__version__, "providers": providers,
            "device": _safe(lambda: ort.get_device())}


def tensorrt_info() -> dict:
    trt = _module("tensorrt")
    if trt is None:
        return dict(_MISSING)
    return {"installed": True, "version": getattr(trt, "__version__", "unknown")}


def cupy_info() -> dict:
    cp = _module("cupy")
    if cp is None:
        return dict(_MISSING)
    out = {"installed": True, "version": cp.__version__}
    out["devices"] = _safe(lambda: cp.cuda.runtime.getDeviceCount(), default=0)
    return out


def gpu_info() -> dict:
    """CUDA GPUs as nvidia-smi reports them (no CUDA library needed)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"present": False, "devices": []}
    try:
        res = subprocess.run([smi, "--query-gpu=name,compute_cap,memory.total,driver_version",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
    except Exception:  # noqa: BLE001
        return {"present": False, "devices": []}
    devices = []
    for line in res.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            devices.append(dict(zip(("name", "compute_capability", "memory", "driver"), parts, strict=True)))
    return {"present": bool(devices), "devices": devices}


def torch_info() -> dict:
    # Only whether it is importable: the runtime never imports torch.
    import importlib.util

    spec = _safe(lambda: importlib.util.find_spec("torch"))
    return {"installed": spec is not None}


def _safe(fn, default=None):
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return default


def environment() -> dict:
    """Everything `edgeseg info` reports, as a JSON-ready dict."""
    return {
        "edgeseg": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jetson": os.path.exists("/etc/nv_tegra_release"),
        "pyav": pyav_info(),
        "onnxruntime": onnxruntime_info(),
        "tensorrt": tensorrt_info(),
        "cupy": cupy_info(),
        "gpu": gpu_info(),
        "torch": torch_info(),
        "encoders": encoders_info(),
        "kernels": _safe(lambda: __import__("edgeseg.system.jit", fromlist=["status"]).status(), default="?"),
        "extras": extras_info(),
    }


def encoders_info() -> dict:
    """H.264 encoders for the overlay: libx264 and the hardware ones (in FFmpeg's build; working here)."""
    from edgeseg.system.encoders import hardware_encoders, pick_encoder

    return {"libx264": _codec_available("libx264", "w"), "hardware": _safe(hardware_encoders, default={}),
            "overlay": _safe(pick_encoder, default="libx264")}


def extras_info() -> dict:
    """{extra: [missing modules]} for the optional extras (empty list: installed)."""
    from edgeseg.system.extras import EXTRAS, missing

    return {extra: missing(extra) for extra in dict.fromkeys(e for e, _ in EXTRAS.values())}


def reference_model_note() -> str:
    """What `run` and `serve` say once when the shipped model meets real video."""
    return ("note: the default model is the shipped reference model, trained on synthetic streets only: on real "
            "video it gets road, sky and near cars but mislabels others (a treeline as car, roadside trees as "
            "building). For real footage export a real model and pass it with --model, e.g. `edgeseg export "
            "deeplabv3_mobilenet_v3_large --weights YOUR_WEIGHTS.pth --num-classes N --classes classes.txt "
            "--out street-bundle` (needs `pip install 'edgeseg[export]'`).")
