"""Labeled synthetic street clips: a frame generator (for training) and `render_clip` (video + label PNGs).

Usage::

    for rgb, labels in iter_frames(frames=100, size=(360, 480), seed=1): ...
    clip = render_clip("out/", frames=300, seed=1)   # out/video.mp4, out/labels/frame-000000.png …, out/synth.json

Same arguments → same frames, labels and video bytes (the encoder runs with a fixed thread count).
Speed profile: `speed` m/s, changed at given frames by `speed_changes` ((frame, speed), ...); `cuts` are
frames where a new street (new seed, new light) starts — for adaptive-keyframe experiments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.synth.render import Renderer
from edgeseg.synth.scene import CLASSES, Scene

DEFAULT_SIZE = (360, 480)
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class SynthClip:
    """A rendered clip: video file, label directory and the parameters that made it."""

    directory: Path
    frames: int
    size: tuple[int, int]  # (H, W)
    fps: float
    seed: int
    cuts: tuple[int, ...] = ()

    @property
    def video(self) -> Path:
        return self.directory / "video.mp4"

    @property
    def labels_dir(self) -> Path:
        return self.directory / "labels"

    def label_path(self, i: int) -> Path:
        from edgeseg.sink.masks import mask_name

        return self.labels_dir / mask_name(i)

    def labels(self, i: int) -> np.ndarray:
        """H×W uint8 class indices of display-order frame i."""
        from edgeseg.sink.png import read_png

        return read_png(self.label_path(i))


def _check(frames: int, size: Sequence[int], fps: float, speed: float, speed_changes, cuts) -> None:
    if frames < 1:
        raise ConfigError(f"frames {frames}: must be at least 1")
    if len(size) != 2 or min(size) < 16 or max(size) > 4096:
        raise ConfigError(f"size {'x'.join(map(str, size))}: height and width must be within 16..4096")
    if not fps or fps <= 0:
        raise ConfigError(f"fps {fps}: must be positive")
    for f, v in [(0, speed), *speed_changes]:
        if v < 0 or v > 40:
            raise ConfigError(f"speed {v} at frame {f}: must be within 0..40 m/s")
    if any(c < 1 or c >= frames for c in cuts):
        raise ConfigError(f"cuts {list(cuts)}: every cut must be a frame within 1..{frames - 1}")


def iter_frames(*, frames: int = 300, size: Sequence[int] = DEFAULT_SIZE, seed: int = 0, fps: float = 30.0,
                speed: float = 8.0, speed_changes: Sequence[tuple[int, float]] = (), cuts: Sequence[int] = (),
                traffic: float = 1.0, turn: float = 1.0, shake: float = 1.0, noise: float = 2.0,
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (rgb H×W×3 uint8, labels H×W uint8) for frames 0..frames-1, rendered in memory."""
    size = (int(size[0]), int(size[1]))
    speed_changes = sorted((int(f), float(v)) for f, v in speed_changes)
    cuts = sorted({int(c) for c in cuts})
    _check(frames, size, fps, speed, speed_changes, cuts)
    per_frame = np.full(frames, float(speed))
    for f, v in speed_changes:
        per_frame[max(f, 0):] = v
    bounds = [0, *cuts, frames]
    light_phase = np.random.default_rng([seed, 0x11]).uniform(0, 2 * np.pi, 2)
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        step = per_frame[lo:hi] / fps
        dist = np.concatenate([[0.0], np.cumsum(step)[:-1]])
        duration = (hi - lo) / fps
        scene = Scene.build(seed=seed * 1000 + k, length=float(dist[-1]) + 1.0, duration=duration + 1.0,
                            traffic=traffic, turn=turn, shake=shake)
        renderer = Renderer(scene, size=size)
        for j in range(hi - lo):
            i = lo + j
            tau = j / fps
            t_abs = i / fps
            gain = 1.0 + 0.12 * np.sin(2 * np.pi * t_abs / 7.0 + light_phase[0]) \
                + 0.05 * np.sin(2 * np.pi * t_abs / 2.3 + light_phase[1])
            rng = np.random.default_rng([seed, 0xF0, i])
            yield renderer.render(scene.camera(tau, float(dist[j])), tau, rng, gain=gain, noise=noise)


def render_clip(out_dir: str | Path, *, frames: int = 300, size: Sequence[int] = DEFAULT_SIZE, seed: int = 0,
                fps: float = 30.0, bframes: int = 3, crf: int = 23, preset: str = "medium", gop: int | None = None,
                progress=None, **scene) -> SynthClip:
    """Render OUT_DIR/video.mp4 (H.264, libx264) and OUT_DIR/labels/frame-000000.png, …; scene kwargs → iter_frames."""
    from edgeseg.sink.png import write_png
    from edgeseg.sink.video import VideoWriter

    if bframes < 0 or bframes > 16:
        raise ConfigError(f"bframes {bframes}: must be within 0..16")
    if crf < 0 or crf > 51:
        raise ConfigError(f"crf {crf}: must be within 0..51")
    if preset not in X264_PRESETS:
        raise ConfigError(f"preset {preset!r}: not a libx264 preset ({', '.join(X264_PRESETS)})")
    if gop is not None and gop < 1:
        raise ConfigError(f"gop {gop}: must be at least 1")
    size = (int(size[0]), int(size[1]))
    gen = iter_frames(frames=frames, size=size, seed=seed, fps=fps, **scene)  # validates before touching disk
    first = next(gen)
    out = Path(out_dir)
    labels_dir = out / "labels"
    try:
        labels_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{out}: cannot create the output directory ({exc.strerror})") from None
    if out.joinpath("video.mp4").is_dir():
        raise ConfigError(f"{out / 'video.mp4'}: is a directory")
    clip = SynthClip(out, frames, size, float(fps), int(seed), tuple(sorted(scene.get("cuts", ()))))
    with VideoWriter(clip.video, fps=fps, width=size[1], height=size[0], crf=crf, preset=preset,
                     bframes=bframes, gop=gop, options={"threads": "2"}) as writer:
        for i, (rgb, lab) in enumerate(_chain(first, gen)):
            writer.write(rgb)
            write_png(clip.label_path(i), lab, level=3)
            if progress is not None:
                progress(1)
    meta = asdict(clip) | {"directory": str(out), "classes": CLASSES, "bframes": bframes, "crf": crf,
                           "preset": preset, "gop": gop,
                           "scene": {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in scene.items()}}
    (out / "synth.json").write_text(json.dumps(meta, indent=1) + "\n")
    return clip


def _chain(first, rest):
    yield first
    yield from rest
