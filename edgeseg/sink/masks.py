"""Label masks as 8-bit PNG files, one per frame: DIR/frame-<i>.png, value = class index.

Usage: ``sink = MaskSink("masks/"); sink.write(result)``
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import ConfigError

# PNG's "up" filter and zlib's run-length strategy: a 960×540 street label map in 1.2 ms and 4.6 kB
# (no filter, level 6 RLE: 1.3 ms, 8.7 kB; zlib's default strategy at level 6: 3.4 ms, 7.7 kB)
MASK_PNG = {"level": 6, "rle": True, "up": True}


class MaskSink:
    """Writes each result's labels at the video's resolution. Contract: a file is complete once written."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.written = 0
        self._created = not self.dir.exists()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.dir}: cannot create the masks directory ({exc.strerror})") from None

    def write(self, result) -> None:
        from edgeseg.sink.png import write_png

        path = self.dir / f"frame-{result.frame.index}.png"
        tmp = path.with_suffix(".png.tmp")
        write_png(tmp, result.labels, **MASK_PNG)
        tmp.replace(path)  # atomic: a killed run never leaves a half-written mask
        self.written += 1

    def close(self) -> None:
        """A run that ended before its first frame removes the directory it created."""
        if self.written == 0 and self._created:
            try:
                self.dir.rmdir()
            except OSError:
                pass
