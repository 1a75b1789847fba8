"""Rolling per-camera outputs: overlay MP4s and JSONL stats cut into segments, each finished file complete.

Usage::

    out = RollingOutputs(Path("out/front"), segment_seconds=600, fps=25, classes=c, palette=p,
                         outputs=OutputSpec(overlay=True, stats=True))   # True: made per segment
    out.write(result, extra={"audit": 0.93})   # per frame
    out.close()                                # finishes the open segment

Files: ``DIR/YYYYmmdd-HHMMSS.mp4`` / ``.jsonl`` (UTC start time); while written they are named
``*.part.mp4`` / ``*.part.jsonl`` and renamed when finished, so every ``.mp4`` on disk is playable.
Masks (optional) go to ``DIR/masks/<segment>/frame-000000.png``; the label video (optional) is
``DIR/YYYYmmdd-HHMMSS.avi``. The sinks are `edgeseg run`'s own (edgeseg.sink.outputs), one set per segment.
The service runs each camera's outputs on a writer thread (``ThreadedSink(RollingOutputs(...))``,
edgeseg.sink.writer), like `edgeseg run`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from edgeseg.errors import ConfigError
from edgeseg.sink.outputs import OutputSpec, open_outputs

PART = ".part"


class RollingOutputs:
    """Writes results into segments of `segment_seconds` of video (counted in frames at `fps`), through the
    same sinks as `edgeseg run` (edgeseg.sink.outputs): one set per segment."""

    def __init__(self, directory: Path, *, segment_seconds: float, fps: float, classes: list[str], palette,
                 outputs: OutputSpec, live: bool = False, on_finished=None):
        """outputs: which outputs (any non-None path: the paths themselves are made per segment) and their
        alpha and overlay scale."""
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if outputs.masks is not None:
                (self.dir / "masks").mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.dir}: cannot create the output directory ({exc.strerror})") from None
        self.segment_frames = max(1, round(segment_seconds * (fps or 25.0)))
        self.fps, self.classes, self.palette, self.live = fps or 25.0, list(classes), palette, live
        self.outputs = outputs
        self.on_finished = on_finished  # called with each finished file's Path
        self._sinks: list = []
        self._parts: list[Path] = []
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
        paths = {"masks": self.dir / "masks" / stem, "stats": self.dir / f"{stem}{PART}.jsonl",
                 "overlay": self.dir / f"{stem}{PART}.mp4", "label_video": self.dir / f"{stem}{PART}.avi"}
        wanted = {name: paths[name] for name in self.outputs.requested}
        self._parts = [p for name, p in wanted.items() if name != "masks"]
        self._sinks = open_outputs(self.outputs.replace(**{n: wanted.get(n) for n in paths}), classes=self.classes,
                                   palette=self.palette, fps=self.fps, live=self.live, threaded=False)

    def write(self, result, *, extra: dict | None = None) -> None:
        """One segmented frame; extra keys (reconnects, audit agreement) join its stats line."""
        if self._stem is None or self._count >= self.segment_frames:  # contract: a segment never exceeds it
            self.finish()
            self._open()
        self._count += 1
        if extra:
            result.extra.update(extra)
        for sink in self._sinks:
            sink.write(result)

    def finish(self) -> None:
        """Close the open segment and give its files their final names."""
        if self._stem is None:
            return
        for sink in self._sinks:
            sink.close()
        self._sinks = []
        for part in self._parts:
            final = part.with_name(part.name.replace(PART, ""))
            if part.exists():
                part.replace(final)
                self.finished.append(final)
                del self.finished[:-1000]
                if self.on_finished is not None:
                    self.on_finished(final)
        self._parts = []
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
