"""H.264 encoders for the overlay: libx264, or a hardware encoder where FFmpeg has one that works here.

Usage: ``codec = pick_encoder("auto")``; ``encoder_options(codec, crf=23, preset="superfast")``

A hardware encoder in FFmpeg's build is not one that works on this machine (h264_nvenc needs an NVIDIA GPU
with NVENC, and its driver), so `working` opens each candidate on a tiny frame once per process.
``EDGESEG_OVERLAY_ENCODER`` (e.g. ``libx264``) overrides "auto".
"""

from __future__ import annotations

import functools
import os
from fractions import Fraction

# In order of preference. h264_nvmpi: Jetson's encoder in the jetson-ffmpeg build; h264_v4l2m2m: V4L2
# memory-to-memory encoders (Raspberry Pi, some SoCs).
HARDWARE_ENCODERS = ("h264_nvenc", "h264_nvmpi", "h264_v4l2m2m")
SOFTWARE_ENCODER = "libx264"


def in_build(name: str) -> bool:
    """Whether PyAV's FFmpeg has this encoder at all."""
    try:
        import av

        av.codec.Codec(name, "w")
        return True
    except Exception:  # noqa: BLE001 - unknown codec, or PyAV missing
        return False


@functools.cache
def working(name: str) -> bool:
    """Whether the encoder opens and encodes one small frame on this machine (cached per process)."""
    if not in_build(name):
        return False
    try:
        import av
        import numpy as np

        ctx = av.CodecContext.create(name, "w")
        ctx.width, ctx.height, ctx.pix_fmt = 256, 144, "yuv420p"
        ctx.time_base, ctx.framerate = Fraction(1, 25), 25
        ctx.open()
        frame = av.VideoFrame.from_ndarray(np.zeros((216, 256), np.uint8), format="yuv420p")
        frame.pts = 0
        ctx.encode(frame)
        ctx.encode(None)
        return True
    except Exception:  # noqa: BLE001 - no device, no driver, busy
        return False


def hardware_encoders() -> dict[str, dict]:
    """Each known hardware encoder: {"in_build": …, "works": …} (what `edgeseg info` shows)."""
    return {name: {"in_build": in_build(name), "works": working(name)} for name in HARDWARE_ENCODERS}


def pick_encoder(choice: str = "auto") -> str:
    """"auto": the first working hardware encoder, else libx264; any other name is used as given."""
    choice = os.environ.get("EDGESEG_OVERLAY_ENCODER", "") or choice
    if choice != "auto":
        return choice
    return next((name for name in HARDWARE_ENCODERS if working(name)), SOFTWARE_ENCODER)


def encoder_options(codec: str, *, crf: int, preset: str) -> dict:
    """The encoder's options for a libx264-style quality (crf) and speed (preset)."""
    if codec in (SOFTWARE_ENCODER, "libx264rgb"):
        return {"crf": str(crf), "preset": preset}
    if codec == "h264_nvenc":  # constant quality; p1 fastest … p7 slowest
        fast = preset in ("ultrafast", "superfast", "veryfast")
        return {"rc": "vbr", "cq": str(crf), "preset": "p2" if fast else "p4"}
    return {}  # V4L2 / nvmpi encoders: their own rate control
