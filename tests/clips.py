"""Test clips with known motion, encoded with PyAV/libx264 (importable from tests as ``import clips``).

Usage::

    clip = clips.translate_clip(tmp_path / "t.mp4", size=(642, 362), frames=12, shift_xy=(1.5, -0.75))
    dx, dy, known = clip.truth(t, stride=16)   # true field of frame t (MotionField semantics)

Content is smooth multi-scale noise sampled bilinearly, so non-integer shifts are real sub-pixel motion.
Truth follows MotionField: frame_t(p) = frame_{t-1}(p + d), so content moving by +s per frame has d = -s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeseg.sink.video import VideoWriter


@dataclass
class Clip:
    """An encoded test clip and its true motion."""

    path: Path
    width: int
    height: int
    frames: int
    fps: float
    shift_xy: tuple[float, float]  # content motion per frame (object or whole frame), pixels
    box: tuple[int, int, int, int] | None = None  # moving object's (x, y, w, h) in frame 0, None = global
    images: list = field(default_factory=list, repr=False)  # the RGB frames that were encoded
    steps: np.ndarray | None = field(default=None, repr=False)  # per-frame content motion (frames, 2), if it varies

    def truth(self, t: int, *, stride: int = 16, margin: int = 1):
        """(dx, dy, known) on the stride grid for frame t ≥ 1; `known` excludes border and boundary cells."""
        gh, gw = -(-self.height // stride), -(-self.width // stride)
        sx, sy = self.shift_xy if self.steps is None else self.steps[t]
        dx = np.full((gh, gw), -sx, np.float32)
        dy = np.full((gh, gw), -sy, np.float32)
        known = np.zeros((gh, gw), bool)
        known[margin:gh - margin, margin:gw - margin] = True
        known[:, (np.arange(gw) + 1) * stride > self.width - margin * stride] = False
        known[(np.arange(gh) + 1) * stride > self.height - margin * stride, :] = False
        if self.box is not None:
            x, y, w, h = self.box
            ox, oy = x + sx * t, y + sy * t  # the object in frame t
            cx0, cy0 = np.arange(gw) * stride, np.arange(gh) * stride
            inside_x = (cx0 >= ox + 1) & (cx0 + stride <= ox + w - 1)
            inside_y = (cy0 >= oy + 1) & (cy0 + stride <= oy + h - 1)
            inside = inside_y[:, None] & inside_x[None, :]
            # background cells clear of the object in frames t-1 and t (no occlusion/uncovering)
            px, py = ox - sx, oy - sy
            lo_x, hi_x = min(ox, px) - stride, max(ox, px) + w
            lo_y, hi_y = min(oy, py) - stride, max(oy, py) + h
            near = ((cy0 > lo_y - 1) & (cy0 < hi_y + 1))[:, None] & ((cx0 > lo_x - 1) & (cx0 < hi_x + 1))[None, :]
            dx = np.where(inside, -sx, 0).astype(np.float32)
            dy = np.where(inside, -sy, 0).astype(np.float32)
            known &= inside | ~near
        return dx, dy, known


def texture(height: int, width: int, *, seed: int = 0) -> np.ndarray:
    """Smooth multi-scale RGB noise (H×W×3 float32 in 0..255), good for motion search."""
    rng = np.random.default_rng(seed)
    out = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((32, 0.5), (12, 0.3), (5, 0.2)):
        small = rng.uniform(0, 255, (height // cell + 3, width // cell + 3, 3)).astype(np.float32)
        ys, xs = np.arange(height) / cell, np.arange(width) / cell
        out += weight * _bilinear(small, xs[None, :].repeat(height, 0), ys[:, None].repeat(width, 1))
    return out


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    h, w = img.shape[:2]
    x0c, x1c = np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)
    y0c, y1c = np.clip(y0, 0, h - 1), np.clip(y0 + 1, 0, h - 1)
    top = img[y0c, x0c] * (1 - fx) + img[y0c, x1c] * fx
    bot = img[y1c, x0c] * (1 - fx) + img[y1c, x1c] * fx
    return top * (1 - fy) + bot * fy


def _encode(path, images, fps, **enc) -> None:
    h, w = images[0].shape[:2]
    with VideoWriter(path, fps=fps, width=w, height=h, **enc) as writer:
        for img in images:
            writer.write(img)


def translate_clip(path, *, size=(320, 192), frames=10, shift_xy=(1.5, -0.75), bframes=0, refs=1,
                   fps=25.0, crf=18, preset="veryfast", gop=None, seed=0, options=None) -> Clip:
    """Whole frame moving by shift_xy (content motion, non-integer allowed) per frame; returns the Clip."""
    w, h = size
    sx, sy = shift_xy
    pad = int(np.ceil(max(abs(sx), abs(sy)) * frames)) + 4
    tex = texture(h + 2 * pad, w + 2 * pad, seed=seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    images = [np.clip(_bilinear(tex, xs + pad - sx * t, ys + pad - sy * t), 0, 255).astype(np.uint8)
              for t in range(frames)]
    _encode(path, images, fps, crf=crf, preset=preset, bframes=bframes, refs=refs, gop=gop, options=options)
    return Clip(Path(path), w, h, frames, fps, (sx, sy), None, images)


def shaky_clip(path, *, size=(320, 192), frames=16, bframes=0, refs=1, fps=25.0, crf=18, preset="medium",
               seed=1) -> Clip:
    """Whole frame moving by a different random shift each frame (0.2–1.6 px right, up to 0.8 px up or down):
    motion that is not linear over several frames; truth per frame from Clip.steps."""
    w, h = size
    rng = np.random.default_rng(seed)
    steps = np.stack([rng.uniform(0.2, 1.6, frames), rng.uniform(-0.8, 0.8, frames)], 1).astype(np.float32)
    steps[0] = 0
    pos = np.cumsum(steps, 0)
    pad = int(np.ceil(np.abs(pos).max())) + 4
    tex = texture(h + 2 * pad, w + 2 * pad, seed=seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    images = [np.clip(_bilinear(tex, xs + pad - pos[t, 0], ys + pad - pos[t, 1]), 0, 255).astype(np.uint8)
              for t in range(frames)]
    _encode(path, images, fps, crf=crf, preset=preset, bframes=bframes, refs=refs)
    return Clip(Path(path), w, h, frames, fps, (0.0, 0.0), None, images, steps)


def object_clip(path, *, size=(320, 192), frames=10, shift_xy=(2.25, 1.0), box=(64, 48, 96, 80), bframes=0,
                refs=1, fps=25.0, crf=18, preset="veryfast", seed=0, gop=None) -> Clip:
    """A textured box moving by shift_xy per frame over a static textured background; returns the Clip."""
    w, h = size
    bx, by, bw, bh = box
    sx, sy = shift_xy
    bg = texture(h, w, seed=seed)
    obj = texture(bh + 2, bw + 2, seed=seed + 1)[::-1]  # different content from the background
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    images = []
    for t in range(frames):
        ox, oy = bx + sx * t, by + sy * t
        inside = (xx >= ox) & (xx < ox + bw) & (yy >= oy) & (yy < oy + bh)
        img = bg.copy()
        sample = _bilinear(obj, xx - ox + 1, yy - oy + 1)
        img[inside] = sample[inside]
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    _encode(path, images, fps, crf=crf, preset=preset, bframes=bframes, refs=refs, gop=gop)
    return Clip(Path(path), w, h, frames, fps, (sx, sy), box, images)


def field_error(clip: Clip, pairs, *, stride: int = 16):
    """Mean end-point error (pixels) of valid known cells over P/B frames, and the valid fraction of known cells.

    pairs: (frame, MotionField) as MotionFieldBuilder.fields yields them.
    """
    errs, valid, total = [], 0, 0
    for frame, fld in pairs:
        if frame.index == 0 or (frame.pict_type == "I" and frame.mvs is not None):
            continue  # estimated frames (mvs None, e.g. MJPEG: all "I") do carry motion
        dx, dy, known = clip.truth(frame.index, stride=stride)
        ok = known & fld.valid
        errs.append(np.hypot(fld.dx - dx, fld.dy - dy)[ok])
        valid += int(ok.sum())
        total += int(known.sum())
    e = np.concatenate(errs) if errs else np.zeros(0)
    return float(e.mean()) if e.size else float("nan"), valid / max(total, 1)


def encode_with(path, images, *, codec: str, fps: float = 25.0, pix_fmt: str = "yuv420p", bframes: int = 0,
                options: dict | None = None) -> Path:
    """Encode RGB images with any FFmpeg encoder PyAV has (mpeg4, mjpeg, rawvideo, libx264 …)."""
    import av

    h, w = images[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        stream.codec_context.max_b_frames = bframes
        if options:
            stream.options = options
        for img in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Path(path)


def remux(src, dst, **options) -> Path:
    """Copy the video packets of `src` into container `dst` (format from its suffix); options go to the muxer."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", options=options) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return Path(dst)
