"""`edgeseg synth OUT_DIR`: a procedurally rendered street video with exact per-pixel labels.

Usage: ``edgeseg synth out/ --frames 300 --size 360x480 --seed 1 --cuts 150 --speed-changes 100:2,200:15``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from edgeseg.errors import ConfigError


def parse_size(text: str) -> tuple[int, int]:
    """'HxW' → (H, W); ConfigError naming the text otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--size {text!r}: expected HxW, e.g. 360x480")
    return int(parts[0]), int(parts[1])


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected comma-separated frame numbers, e.g. 100,200") from None


def _changes(text: str) -> tuple[tuple[int, float], ...]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        frame, _, speed = part.partition(":")
        try:
            out.append((int(frame), float(speed)))
        except ValueError:
            raise ConfigError(f"--speed-changes {text!r}: expected FRAME:SPEED pairs, e.g. 100:2,200:15") from None
    return tuple(out)


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--frames", type=click.IntRange(1, 100_000), default=300, show_default=True, help="Number of frames.")
@click.option("--size", default="360x480", show_default=True, help="Frame size HxW.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True, help="Scene seed (same seed → same output).")
@click.option("--fps", type=click.FloatRange(0, 240, min_open=True), default=30.0, show_default=True, help="Frame rate.")
@click.option("--bframes", type=click.IntRange(0, 16), default=3, show_default=True, help="libx264 max consecutive B-frames.")
@click.option("--crf", type=click.IntRange(0, 51), default=23, show_default=True, help="libx264 constant rate factor.")
@click.option("--preset", default="medium", show_default=True, help="libx264 preset.")
@click.option("--gop", type=click.IntRange(1, 10_000), default=None, help="Keyframe interval (default: libx264's).")
@click.option("--speed", type=click.FloatRange(0, 40), default=8.0, show_default=True, help="Camera speed, m/s.")
@click.option("--speed-changes", default="", help="FRAME:SPEED,... speed changes (fast/slow segments).")
@click.option("--cuts", default="", help="FRAME,... scene cuts (a new street starts at each).")
@click.option("--traffic", type=click.FloatRange(0, 10), default=1.0, show_default=True, help="Density of cars and pedestrians.")
def synth(out_dir: str, frames: int, size: str, seed: int, fps: float, bframes: int, crf: int, preset: str,
          gop: int | None, speed: float, speed_changes: str, cuts: str, traffic: float) -> None:
    """Render OUT_DIR/video.mp4 (H.264) and OUT_DIR/labels/frame-000000.png, … (class index per pixel)."""
    from tqdm import tqdm

    from edgeseg.sink.paths import check_parent
    from edgeseg.synth.clip import render_clip

    hw = parse_size(size)
    check_parent(Path(out_dir), "OUT_DIR")  # the directory is created, its parent must exist (docs/OUTPUTS.md)
    if traffic < 0:
        raise ConfigError(f"--traffic {traffic}: must not be negative")
    start = time.perf_counter()
    bar = tqdm(total=max(frames, 0), unit="frame", disable=not sys.stderr.isatty(), leave=False)
    try:
        clip = render_clip(out_dir, frames=frames, size=hw, seed=seed, fps=fps, bframes=bframes, crf=crf,
                           preset=preset, gop=gop, progress=bar.update, speed=speed,
                           speed_changes=_changes(speed_changes), cuts=_ints(cuts, "--cuts"), traffic=traffic)
    finally:
        bar.close()
    click.echo(f"{clip.video}: {clip.frames} frames {hw[0]}x{hw[1]} seed {seed}, labels in {clip.labels_dir}, "
               f"{time.perf_counter() - start:.1f} s")
