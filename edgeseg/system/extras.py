"""Optional dependencies: which extra installs each, and a one-line error naming it when one is missing.

Usage: ``cv2 = require("cv2", purpose="--mode flow")``; ``missing("service")`` → ["prometheus_client"]

Every path that needs an optional module asks for it here, so a user without it reads one line such as
``Error: serve's metrics need prometheus_client: pip install 'edgeseg[service]'`` instead of a traceback.
"""

from __future__ import annotations

import importlib

from edgeseg.errors import EdgesegError

# import name → (extra, its distribution name on PyPI)
EXTRAS = {
    "prometheus_client": ("service", "prometheus-client"),
    "paho": ("mqtt", "paho-mqtt"),
    "cv2": ("bench", "opencv-python-headless"),
    "matplotlib": ("bench", "matplotlib"),
    "torch": ("export", "torch"),
    "torchvision": ("export", "torchvision"),
    "onnx": ("export", "onnx"),
    "onnxscript": ("export", "onnxscript"),
    "tensorrt": ("gpu", "tensorrt"),
    "cupy": ("gpu", "cupy-cuda12x"),
}
_HINTS = {"tensorrt": " (on a Jetson: JetPack's python3-libnvinfer, seen through --system-site-packages)"}


class MissingExtraError(EdgesegError):
    """An optional dependency is not installed."""


def install_hint(module: str) -> str:
    extra, _ = EXTRAS[module]
    return f"pip install 'edgeseg[{extra}]'{_HINTS.get(module, '')}"


def available(module: str) -> bool:
    """Whether the module imports (a broken install counts as missing)."""
    try:
        importlib.import_module(module)
        return True
    except Exception:  # noqa: BLE001 - ImportError, or a package that fails while importing
        return False


def require(module: str, *, purpose: str):
    """The imported module, or MissingExtraError: "<purpose> needs <module>: pip install 'edgeseg[extra]'"."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        cause = f" ({exc.name} missing)" if exc.name and exc.name.split(".")[0] != module else ""
        raise MissingExtraError(f"{purpose} needs {module}{cause}: {install_hint(module)}") from None


def missing(extra: str) -> list[str]:
    """The modules of an extra that do not import here."""
    return [m for m, (e, _) in EXTRAS.items() if e == extra and not available(m)]
