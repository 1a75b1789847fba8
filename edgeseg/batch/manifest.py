"""DIR/manifest.jsonl: the state of every input of a batch, one JSON line each.

Usage::

    manifest = Manifest(out / "manifest.jsonl")
    if not manifest.finished(path):
        manifest.add({"input": path, "status": "ok", **file_identity(path)})
    manifest.compact()                     # when the batch ends: one line per input

While a batch runs, lines are only appended (and synced), so a crash or power loss loses nothing written: a
later line for the same input supersedes the earlier ones. When the batch ends (also by an error or Ctrl-C),
compact() rewrites the file atomically (temporary file, fsync, os.replace) to hold exactly one line per input,
its latest. An input counts as finished while its latest line says ok and its size and mtime are unchanged;
inputs whose latest line is an error are tried again.
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


def _latest(path: Path) -> dict[str, dict]:
    """The file's latest line per input, in the order of those lines (lines cut short are skipped)."""
    lines: dict[str, dict] = {}
    if path.exists():
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line cut short by a power loss
            if isinstance(line, dict) and isinstance(line.get("input"), str):
                lines.pop(line["input"], None)
                lines[line["input"]] = line
    return lines


class Manifest:
    """The batch's record of finished inputs (the latest line per input wins)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lines = _latest(self.path)

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
        self.lines.pop(line["input"], None)
        self.lines[line["input"]] = line

    def compact(self) -> bool:
        """Rewrite the file with one line per input, its latest (read from the file as it is now), atomically;
        False where it could not be rewritten (the appended file stays as it was, equally valid)."""
        if not self.path.exists():
            return True
        tmp = self.path.with_name(f".tmp-{os.getpid()}-{self.path.name}")
        try:
            self.lines = _latest(self.path)
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(line) + "\n" for line in self.lines.values())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # the rename itself survives a power loss
            finally:
                os.close(folder)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True
