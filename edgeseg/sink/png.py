"""Minimal PNG writer and reader (zlib + numpy, no Pillow): label masks and small images.

Usage: ``write_png("frame-0.png", labels_hw_uint8)``; ``labels = read_png("frame-0.png")``

Writes 8-bit grayscale (H×W), RGB (H×W×3) or RGBA (H×W×4), every row with filter "none" or "up" (the
difference from the row above: label masks, whose rows mostly repeat, compress to about half the bytes, in
less time). Reads non-interlaced 8-bit grayscale, gray+alpha, RGB, RGBA and palette files (palette files
return the indices) with any row filter. Anything else raises ConfigError naming the file.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels → PNG colour type (writing)
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type → channels (reading)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, *, level: int = 6, rle: bool = False, up: bool = False) -> bytes:
    """PNG bytes of an H×W or H×W×{3,4} uint8 array. rle: zlib's run-length strategy (label maps: faster
    than level 3 and smaller); up: PNG's "up" row filter."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ConfigError(f"PNG image {img.shape} {img.dtype} is not H×W or H×W×3/4 uint8")
    h, w = img.shape[:2]
    if h < 1 or w < 1:
        raise ConfigError(f"PNG image {img.shape} is empty")
    channels = 1 if img.ndim == 2 else img.shape[2]
    rows = np.empty((h, 1 + w * channels), np.uint8)
    flat = img.reshape(h, w * channels)
    rows[:, 0] = 2 if up else 0  # filter type "up" or "none"
    rows[:, 1:] = flat
    if up:
        np.subtract(flat[1:], flat[:-1], out=rows[1:, 1:])  # mod 256; the first row is its own
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPES[channels], 0, 0, 0)
    if rle:
        packer = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
        data = packer.compress(rows) + packer.flush()
    else:
        data = zlib.compress(rows, level)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def write_png(path: str | Path, image: np.ndarray, *, level: int = 6, rle: bool = False, up: bool = False) -> None:
    """Write an H×W (gray / label) or H×W×3/4 uint8 array as a PNG file."""
    data = encode_png(image, level=level, rle=rle, up=up)
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the PNG ({exc.strerror})") from None


def _unfilter(raw: np.ndarray, h: int, stride: int, bpp: int, name: str) -> np.ndarray:
    """Undo PNG row filters; raw is h×(1+stride) bytes."""
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(h):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:  # Sub: cumulative sum per byte lane, mod 256
            cur = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1) if stride % bpp == 0 \
                else _slow(line, prev, bpp, kind)
        elif kind == 2:  # Up
            cur = line + prev
        elif kind in (3, 4):  # Average, Paeth: sequential along the row
            cur = _slow(line, prev, bpp, kind)
        else:
            raise ConfigError(f"{name}: corrupt PNG (row filter {kind})")
        out[y] = cur
        prev = cur
    return out


def _slow(line: np.ndarray, prev: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    cur = np.zeros(len(line), np.int32)
    up = prev.astype(np.int32)
    src = line.astype(np.int32)
    for i in range(len(line)):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 1:
            pred = a
        elif kind == 3:
            pred = (a + b) // 2
        else:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        cur[i] = (src[i] + pred) & 0xFF
    return cur.astype(np.uint8)


def read_png(path: str | Path) -> np.ndarray:
    """H×W (gray, palette indices) or H×W×C uint8 array from an 8-bit non-interlaced PNG file."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read the PNG ({exc.strerror})") from None
    if not data.startswith(_SIGNATURE):
        raise ConfigError(f"{name}: not a PNG file")
    pos, header, idat = len(_SIGNATURE), None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            break
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise ConfigError(f"{name}: corrupt PNG (missing header or image data)")
    w, h, depth, ctype, _, _, interlace = header
    if depth != 8 or ctype not in _CHANNELS or interlace:
        raise ConfigError(f"{name}: unsupported PNG (bit depth {depth}, colour type {ctype}, "
                          f"interlace {interlace}); need 8-bit non-interlaced")
    channels = _CHANNELS[ctype]
    stride = w * channels
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    except zlib.error:
        raise ConfigError(f"{name}: corrupt PNG (image data does not decompress)") from None
    if raw.size < h * (stride + 1):
        raise ConfigError(f"{name}: corrupt PNG (image data is truncated)")
    pixels = _unfilter(raw[:h * (stride + 1)].reshape(h, stride + 1), h, stride, channels, name)
    return pixels.reshape(h, w) if channels == 1 else pixels.reshape(h, w, channels)
