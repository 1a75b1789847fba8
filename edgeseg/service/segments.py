"""Rolling per-camera outputs: overlay MP4s and JSONL stats cut into segments, each finished file complete.

Usage::

    out = RollingOutputs(Path("out/front"), segment_seconds=600, fps=25, classes=c, palette=p, overlay=True)
    out.write(result, extra={"audit": 0.93})   # per frame
    out.close()                                # finishes the open segment

Files: ``DIR/YYYYmmdd-HHMMSS.mp4`` / ``.jsonl`` (UTC start time); while written they are named
``*.part.mp4`` / ``*.part.jsonl`` and renamed when finished, so every ``.mp4`` on disk is playable.
Masks (optional) go to ``DIR/masks/<segment>/frame-<i>.png``. The service runs each camera's outputs on a
writer thread (``ThreadedSink(RollingOutputs(...))``, edgeseg.sink.writer), like `edgeseg run`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from edgeseg.errors import ConfigError
from edgeseg.sink.masks import mask_name
from edgeseg.sink.stats import result_fractions

PART = ".part"


class RollingOutputs:
    """Writes results into segments of `segment_seconds` of video (counted in frames at `fps`)."""

    def __init__(self, directory: Path, *, segment_seconds: float, fps: float, classes: list[str], palette,
                 overlay: bool = True, stats: bool = True, masks: bool = False, alpha: float = 0.5,
                 overlay_scale: float = 1.0, live: bool = False, on_finished=None):
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.dir}: cannot create the output directory ({exc.strerror})") from None
        self.segment_frames = max(1, round(segment_seconds * (fps or 25.0)))
        self.fps, self.classes, self.palette, self.alpha = fps or 25.0, list(classes), palette, alpha
        self.want_overlay, self.want_stats, self.want_masks = overlay, stats, masks
        self.overlay_scale, self.live = overlay_scale, live
        self.on_finished = on_finished  # called with each finished file's Path
        self._overlay = None
        self._stats = None
        self._masks_dir: Path | None = None
        self._stem: str | None = None
        self._base, self._seq = "", 0
        self._count = 0
        self.finished: list[Path] = []

    def _open(self) -> None:
        base = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self._seq = self._seq + 1 if base == self._base else 0
        self._base = base
        stem = base if self._seq == 0 else f"{base}_{self._seq:02d}"  # several segments in one second
        self._stem, self._count = stem, 0
        if self.want_overlay:
            from edgeseg.sink.overlay import OverlaySink

            self._overlay = OverlaySink(self.dir / f"{stem}{PART}.mp4", palette=self.palette, fps=self.fps,
                                        alpha=self.alpha, scale=self.overlay_scale, live=self.live)
        if self.want_stats:
            self._stats = open(self.dir / f"{stem}{PART}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        if self.want_masks:
            self._masks_dir = self.dir / "masks" / stem
            self._masks_dir.mkdir(parents=True, exist_ok=True)

    def write(self, result, *, extra: dict | None = None) -> None:
        """One segmented frame; extra keys (reconnects, audit agreement) join its stats line."""
        if self._stem is None or self._count >= self.segment_frames:  # contract: a segment never exceeds it
            self.finish()
            self._open()
        self._count += 1
        if self._overlay is not None:
            self._overlay.write(result)
        if self._stats is not None:
            line = {"time": round(time.time(), 3), "frame": result.frame.index, "pts": result.frame.pts,
                    "pict_type": result.frame.pict_type, "keyframe": bool(result.keyframe),
                    "class_fraction": result_fractions(result, self.classes),
                    "latency_ms": round(result.latency_ms, 3), **(extra or {})}
            self._stats.write(json.dumps(line) + "\n")
            self._stats.flush()
        if self._masks_dir is not None:
            from edgeseg.sink.masks import MASK_PNG
            from edgeseg.sink.png import write_png

            write_png(self._masks_dir / mask_name(result.frame.index), result.labels, **MASK_PNG)

    def finish(self) -> None:
        """Close the open segment and give its files their final names."""
        if self._stem is None:
            return
        done = []
        if self._overlay is not None:
            self._overlay.close()
            self._overlay = None
            done.append(self.dir / f"{self._stem}{PART}.mp4")
        if self._stats is not None:
            self._stats.close()
            self._stats = None
            done.append(self.dir / f"{self._stem}{PART}.jsonl")
        for part in done:
            final = part.with_name(part.name.replace(PART, ""))
            if part.exists():
                part.replace(final)
                self.finished.append(final)
                del self.finished[:-1000]
                if self.on_finished is not None:
                    self.on_finished(final)
        self._masks_dir = None
        self._count = self.segment_frames  # next write opens a new segment

    def close(self) -> None:
        self.finish()


def enforce_retention(directory: Path, *, max_age_s: float = 0.0, max_bytes: float = 0.0,
                      now: float | None = None) -> list[Path]:
    """Delete finished outputs older than max_age_s, then the oldest until the rest fit in max_bytes.

    0 disables a limit. Files still being written (``*.part.*``) are never deleted. Returns what was removed.
    """
    directory = Path(directory)
    if not directory.is_dir() or (max_age_s <= 0 and max_bytes <= 0):
        return []
    now = time.time() if now is None else now
    files = []
    for p in directory.rglob("*"):
        if p.is_file() and PART not in p.name:
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, p))
    files.sort()
    removed = []
    total = sum(size for _, size, _ in files)
    for mtime, size, p in files:
        too_old = max_age_s > 0 and now - mtime > max_age_s
        too_big = max_bytes > 0 and total > max_bytes
        if not (too_old or too_big):
            continue
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        total -= size
        removed.append(p)
    for d in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            if now - d.stat().st_mtime > 60:  # empty mask directories of deleted segments, not the open one
                d.rmdir()
        except OSError:
            pass
    return removed
