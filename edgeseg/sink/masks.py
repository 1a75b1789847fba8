"""Label masks as 8-bit PNG files, one per frame: DIR/frame-000123.png, value = class index.

Usage: ``sink = MaskSink("masks/"); sink.write(result)``
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.sink.paths import make_dir

# PNG's "up" filter and zlib's run-length strategy: a 960×540 street label map in 1.2 ms and 4.6 kB
# (no filter, level 6 RLE: 1.3 ms, 8.7 kB; zlib's default strategy at level 6: 3.4 ms, 7.7 kB)
MASK_PNG = {"level": 6, "rle": True, "up": True}


def mask_name(index: int) -> str:
    """The file name of frame `index`'s mask, zero-padded so names sort in frame order: frame-000123.png."""
    return f"frame-{index:06d}.png"


class MaskSink:
    """Writes each result's labels at the video's resolution. Contract: a file is complete once written."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.written = 0
        self._created = make_dir(self.dir, "masks")

    def write(self, result) -> None:
        from edgeseg.sink.png import write_png

        path = self.dir / mask_name(result.frame.index)
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
