"""TensorRT engines built on the target from the bundle's ONNX files (no torch), cached per device.

Usage: ``paths = build_engines(load_bundle("b/"))`` → {"feature": Path, "task": Path, "task_labels": Path}

- Cache key: GPU name + compute capability + TensorRT version + precision (engines are device-specific),
  under ``BUNDLE/engines/<key>/`` or, for a read-only bundle, ``$EDGESEG_CACHE`` (default ~/.cache/edgeseg).
- TensorRT 10: fp32 ONNX + builder flags (FP16; INT8 with an entropy calibrator over the bundle's
  ``calib.npy``, calibration cache kept beside the engines).
- TensorRT 11: strongly typed networks, no precision flags: builds from the bundle's fp16 / int8 (Q/DQ) ONNX.
- One optimisation profile: dynamic batch 1..max_batch (opt 1); a timing cache speeds up rebuilds.
An engine is rebuilt when the sha256 of its ONNX file changes (recorded in ``engine.json``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from edgeseg.errors import BundleError, ConfigError

NETS = ("feature", "task", "task_labels")
WORKSPACE_BYTES = 1 << 30


def trt_major(trt=None) -> int:
    if trt is None:
        import tensorrt as trt
    return int(trt.__version__.split(".")[0])


def gpu_present() -> bool:
    from edgeseg.system.info import gpu_info

    return gpu_info()["present"]


def unavailable_reason() -> str | None:
    """None when engines can be built here, else why not (one phrase)."""
    from edgeseg.system.extras import available, install_hint

    if not available("tensorrt"):
        return f"TensorRT is not installed ({install_hint('tensorrt')})"
    if not available("cupy"):
        return f"CuPy is not installed ({install_hint('cupy')})"
    if not gpu_present():
        return "no CUDA GPU"
    return None


def device_key(precision: str, device_id: int = 0) -> str:
    """e.g. ``NVIDIA-H100-80GB-HBM3_sm90_trt10.13.0_fp16``."""
    import cupy
    import tensorrt as trt

    props = cupy.cuda.runtime.getDeviceProperties(device_id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    name = re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")
    return f"{name}_sm{props['major']}{props['minor']}_trt{trt.__version__}_{precision}"


def engine_dir(bundle, key: str) -> Path:
    """The bundle's own engines/<key> if writable, else a per-user cache keyed by the bundle's hashes."""
    own = bundle.engines_dir / key
    try:
        own.mkdir(parents=True, exist_ok=True)
        probe = own / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
        return own
    except OSError:
        pass
    tag = bundle.manifest["files"][bundle.feature.extra["file"]][:16]
    cache = Path(os.environ.get("EDGESEG_CACHE") or Path.home() / ".cache" / "edgeseg") / "engines" / tag / key
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def sources(bundle, precision: str, major: int) -> dict[str, tuple[Path, str]]:
    """net → (ONNX file, precision to build it with) for this TensorRT major version."""
    out = {}
    for net in NETS:
        plain = bundle.net(net)
        if plain is None:
            continue
        if major >= 11:  # strongly typed: the precision must be in the file
            spec = bundle.net(net, precision) if precision != "fp32" else plain
            out[net] = (spec.file, "typed")
        else:  # weak typing: fp32 ONNX + flags; int8 only where calibration data fits (the feature network)
            flag = precision if precision != "int8" or net == "feature" else "fp16"
            out[net] = (plain.file, flag)
    return out


def engine_paths(bundle, precision: str | None = None) -> dict[str, Path] | None:
    """Up-to-date engines for this device, or None when any is missing or stale."""
    precision = precision or bundle.precision
    d = engine_dir(bundle, device_key(precision))
    info = d / "engine.json"
    if not info.is_file():
        return None
    try:
        meta = json.loads(info.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    out = {}
    for net, (src, _flag) in sources(bundle, precision, trt_major()).items():
        entry = meta.get(net)
        if net == "task_labels" and entry and "skipped" in entry:
            continue
        path = d / f"{net}.engine"
        if not entry or entry.get("onnx_sha256") != bundle.manifest["files"].get(rel(bundle, src)) or not path.is_file():
            return None
        out[net] = path
    return out


def rel(bundle, path: Path) -> str:
    return path.relative_to(bundle.path).as_posix()


def build_engines(bundle, *, precision: str | None = None, max_batch: int = 8, force: bool = False,
                  log=None) -> dict[str, Path]:
    """Build (or reuse) the bundle's engines for this GPU; returns net → engine path."""
    log = log or (lambda _m: None)
    why = unavailable_reason()
    if why:
        raise ConfigError(f"cannot build TensorRT engines here: {why}")
    import tensorrt as trt

    precision = precision or bundle.precision
    if precision not in ("fp32", "fp16", "int8"):
        raise ConfigError(f"precision {precision!r}: choose fp32, fp16 or int8")
    major = trt_major(trt)
    if major >= 11 and precision != "fp32" and not (bundle.manifest.get("variants") or {}).get(precision):
        raise BundleError(f"{bundle.path}: TensorRT {trt.__version__} needs the precision baked into the ONNX, "
                          f"but the bundle has no {precision} files; re-export with --precision {precision}")
    if not force:
        ready = engine_paths(bundle, precision)
        if ready:
            log(f"engines up to date in {next(iter(ready.values())).parent}")
            return ready
    key = device_key(precision)
    d = engine_dir(bundle, key)
    meta = {"key": key, "tensorrt": trt.__version__, "precision": precision, "max_batch": max_batch}
    out = {}
    for net, (src, flag) in sources(bundle, precision, major).items():
        calib = None
        if flag == "int8":
            calib = calibrator(bundle, d / "calib.cache")
        path = d / f"{net}.engine"
        log(f"building {path.name} from {src.name} (TensorRT {trt.__version__}, {flag}) ...")
        try:
            data = build_serialized(src, flag=flag, max_batch=max_batch, timing_cache=d / "timing.cache",
                                    calibrator=calib)
        except BundleError as exc:
            if net != "task_labels":
                raise
            # optional network: backends fall back to task + host-side upsampling
            log(f"skipping {net}: {exc}")
            meta[net] = {"skipped": str(exc)}
            continue
        path.write_bytes(data)
        meta[net] = {"onnx": rel(bundle, src), "onnx_sha256": bundle.manifest["files"].get(rel(bundle, src)),
                     "flag": flag}
        out[net] = path
    (d / "engine.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def build_serialized(onnx_path: Path, *, flag: str = "fp32", max_batch: int = 8, opt_batch: int = 1,
                     timing_cache: Path | None = None, calibrator=None) -> bytes:
    """One serialized engine from an ONNX file. flag: fp32 / fp16 / int8 (TensorRT 10) or "typed" (11)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = trt_major(trt)
    flags = 0
    if flag == "typed" and major < 11:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BundleError(f"{onnx_path}: TensorRT cannot parse it ({errs[:200]})")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if flag == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32: TF32 matmuls drift by ~1e-3 relative
    if major < 11:
        if flag in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if flag == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = calibrator
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        rest = tuple(int(d) for d in t.shape[1:])
        if any(d < 0 for d in rest):
            raise BundleError(f"{onnx_path}: input {t.name} has dynamic non-batch dims {tuple(t.shape)}")
        b0 = int(t.shape[0])
        lo, opt, hi = (b0, b0, b0) if b0 > 0 else (1, min(opt_batch, max_batch), max_batch)
        profile.set_shape(t.name, (lo, *rest), (opt, *rest), (hi, *rest))
    config.add_optimization_profile(profile)
    if flag == "int8" and major < 11:
        config.set_calibration_profile(profile)
    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=True)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BundleError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    if timing_cache is not None:
        timing_cache.write_bytes(memoryview(config.get_timing_cache().serialize()))
    return bytes(memoryview(serialized))


def calibrator(bundle, cache_path: Path):
    """TensorRT 10 entropy calibrator over the bundle's calibration frames (calib.npy), batch 1."""
    import cupy as cp
    import numpy as np
    import tensorrt as trt

    entry = bundle.manifest.get("calibration")
    if not entry:
        raise BundleError(f"{bundle.path}: int8 needs calibration frames; re-export with --calib SOURCE")
    images = np.load(bundle.file(entry["file"]))
    mean = np.asarray(bundle.mean, np.float32)[:, None, None]
    std = np.asarray(bundle.std, np.float32)[:, None, None]
    batches = [((img.astype(np.float32).transpose(2, 0, 1) / 255.0 - mean) / std)[None].astype(np.float32)
               for img in images]

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self._i = 0
            self._buf = cp.empty(batches[0].shape, cp.float32)

        def get_batch_size(self):
            return 1

        def get_batch(self, names):
            if self._i >= len(batches):
                return None
            self._buf.set(batches[self._i])
            self._i += 1
            return [int(self._buf.data.ptr)]

        def read_calibration_cache(self):
            return cache_path.read_bytes() if cache_path.is_file() else None

        def write_calibration_cache(self, cache):
            cache_path.write_bytes(bytes(cache))

    return Calibrator()
