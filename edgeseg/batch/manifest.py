"""DIR/manifest.jsonl: one line per input once it has finished (ok or error), appended and synced.

Usage::

    manifest = Manifest(out / "manifest.jsonl")
    if not manifest.finished(path):
        manifest.add({"input": path, "status": "ok", **file_identity(path)})

An input counts as finished while its latest line says ok and its size and mtime are unchanged; inputs whose
latest line is an error are tried again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def file_identity(path: str) -> dict:
    """{"size", "mtime"} of a file, or {} where it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return {}
    return {"size": st.st_size, "mtime": st.st_mtime}


class Manifest:
    """The batch's record of finished inputs (the latest line per input wins)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lines: dict[str, dict] = {}
        if self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    line = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut short by a power loss
                if isinstance(line, dict) and "input" in line:
                    self.lines[line["input"]] = line

    def finished(self, path: str) -> bool:
        """The input is done: its latest line is ok and the file has not changed since."""
        line = self.lines.get(path)
        ident = file_identity(path)
        return bool(line and line.get("status") == "ok" and ident
                    and (line.get("size"), line.get("mtime")) == (ident["size"], ident["mtime"]))

    def add(self, line: dict) -> None:
        """Append one line and sync it to storage."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.lines[line["input"]] = line
