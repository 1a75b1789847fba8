"""Bad input across every command, as one table: exit code, a single error line, no traceback, and what is left
on disk (docs/OUTPUTS.md's policy: output parents must exist; a failed command leaves nothing it created; a
truncated input keeps what was processed).

Each row runs the real command in-process (click's runner) on real files made here. Numeric ranges are walked
separately, option by option (tests/test_limits.py).
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import clips
import pytest
import tiny_bundle
from click.testing import CliRunner

from edgeseg.cli import main


@dataclass(frozen=True)
class Case:
    """argv with {d} for the work directory; `line`: a substring of the one Error/note line."""

    argv: tuple[str, ...]
    exit: int
    line: str
    absent: tuple[str, ...] = ()  # paths under {d} that must not exist afterwards
    present: tuple[str, ...] = ()  # paths under {d} that must exist afterwards
    error: bool = True  # False: a success whose note line is checked instead of an Error line
    setup: tuple[str, ...] = field(default=())  # extra fixtures by name (see _SETUPS)


RUN = ("run", "{d}/clip.mp4", "--model", "{d}/bundle")
CASES = {
    # sources
    "run: missing file": Case(("run", "{d}/missing.mp4", "--model", "{d}/bundle"), 1, "no such file"),
    "run: empty file": Case(("run", "{d}/empty.mp4", "--model", "{d}/bundle"), 1, "file is empty"),
    "run: not a video": Case(("run", "{d}/notes.mp4", "--model", "{d}/bundle"), 1, "not a video"),
    "run: truncated before its index": Case(("run", "{d}/unindexed.mp4", "--model", "{d}/bundle"), 1,
                                            "truncated or damaged video"),
    "run: a directory": Case(("run", "{d}/adir", "--model", "{d}/bundle"), 1, "is a directory"),
    "run: missing camera": Case(("run", "camera97", "--model", "{d}/bundle"), 1, "no such camera device"),
    "run: unreachable rtsp": Case(("run", "rtsp://127.0.0.1:9/live", "--model", "{d}/bundle", "--timeout", "2"),
                                  1, "cannot connect"),
    "run: silent rtsp server, --timeout": Case(("run", "rtsp://127.0.0.1:{silent}/live", "--model", "{d}/bundle",
                                                "--timeout", "1"), 1, "rtsp://127.0.0.1:", setup=("silent",)),
    "run: missing model": Case(("run", "{d}/clip.mp4", "--model", "{d}/nobundle"), 1, "nobundle"),
    # outputs: parents must exist, nothing left behind
    "run: overlay in a missing directory": Case((*RUN, "--overlay", "{d}/nodir/o.mp4", "--stats", "{d}/s.jsonl"),
                                                1, "directory {d}/nodir does not exist",
                                                absent=("nodir", "s.jsonl")),
    "run: masks in a missing directory": Case((*RUN, "--masks", "{d}/nodir/m", "--stats", "{d}/s.jsonl"), 1,
                                              "directory {d}/nodir does not exist", absent=("nodir", "s.jsonl")),
    "run: stats in a missing directory": Case((*RUN, "--stats", "{d}/nodir/s.jsonl", "--masks", "{d}/m"), 1,
                                              "directory {d}/nodir does not exist", absent=("nodir", "m")),
    "run: overlay where a file is the directory": Case((*RUN, "--overlay", "{d}/notes.mp4/o.mp4"), 1,
                                                       "is not a directory"),
    # a truncated input: processed up to where its data ends, outputs kept, exit 0 with a note
    "run: truncated file": Case(("run", "{d}/cut.mp4", "--model", "{d}/bundle", "--masks", "{d}/m"), 0,
                                "truncated", error=False, present=("m/frame-000000.png",)),
    # absurd values
    "run: --threads 100000": Case((*RUN, "--threads", "100000"), 2, "--threads"),
    "run: --motion-stride 100000": Case((*RUN, "--motion-stride", "100000"), 2, "--motion-stride"),
    "run: --motion-stride 24": Case((*RUN, "--motion-stride", "24"), 2, "--motion-stride"),
    "run: --warp-stride 100000": Case((*RUN, "--warp-stride", "100000"), 2, "--warp-stride"),
    "run: --timeout 0": Case((*RUN, "--timeout", "0"), 2, "--timeout"),
    "run: unknown mode": Case((*RUN, "--mode", "fast"), 2, "--mode"),
    "bench: --intervals 100000": Case(("bench", "{d}/clip.mp4", "--intervals", "100000"), 1, "--intervals"),
    "bench: labels missing": Case(("bench", "{d}/clip.mp4", "--labels", "{d}/nolabels"), 1, "no such directory"),
    "synth: size too large": Case(("synth", "{d}/syn", "--size", "100000x100000", "--frames", "2"), 1,
                                  "size", absent=("syn",)),
    "synth: output's parent missing": Case(("synth", "{d}/nodir/syn", "--frames", "2"), 1,
                                           "directory {d}/nodir does not exist", absent=("nodir",)),
    "run: a file cut before its first picture": Case(("run", "{d}/stub.mp4", "--model", "{d}/bundle"), 1,
                                                     "truncated video (file ends after"),
    # batch
    "batch: truncated file kept up to where its data ends": Case(
        ("batch", "{d}/cut.mp4", "--out", "{d}/out", "--model", "{d}/bundle", "--workers", "1", "--no-progress"),
        0, "1 truncated (kept up to where the data ends)", error=False,
        present=("out/cut.mp4/labels.avi", "out/cut.mp4/stats.jsonl")),
    "batch: a file cut before its first picture": Case(
        ("batch", "{d}/stub.mp4", "--out", "{d}/out", "--model", "{d}/bundle", "--workers", "1", "--no-progress"),
        1, "failed stub.mp4: ", error=False, absent=("out/stub.mp4",), setup=("keeps-out",)),
    "batch: out's parent missing": Case(("batch", "{d}/clip.mp4", "--out", "{d}/nodir/out"), 1,
                                        "directory {d}/nodir does not exist", absent=("nodir",)),
    "batch: unreachable Ray address": Case(("batch", "{d}/clip.mp4", "--out", "{d}/out", "--ray", "127.0.0.1:9"),
                                           1, "cannot reach a Ray cluster there", absent=("out",)),
    "batch: unknown Ray host": Case(("batch", "{d}/clip.mp4", "--out", "{d}/out", "--ray=nonexistent.invalid:6379"),
                                    1, "unknown host nonexistent.invalid", absent=("out",)),
    # bundles
    "inspect: a bundle whose network is not a segmentation network": Case(
        ("inspect", "{d}/badnet"), 1, "feature.onnx is not the feature network (image → features)"),
    "run: a bundle whose network is not a segmentation network": Case(
        ("run", "{d}/clip.mp4", "--model", "{d}/badnet", "--masks", "{d}/m"), 1,
        "feature.onnx is not the feature network (image → features)", absent=("m",)),
    # motion
    "motion: truncated file keeps its dump": Case(("motion", "{d}/cut.mp4", "--dump", "{d}/mv"), 0,
                                                  "source ended early: ", error=False,
                                                  present=("mv/frame_types.txt", "mv/motion_vectors/mvs-0.npy")),
    "motion: no frame at all": Case(("motion", "{d}/headeronly.mp4", "--dump", "{d}/mv"), 1,
                                    "truncated video (file ends after 0 of", absent=("mv",)),
    "motion: not a video": Case(("motion", "{d}/notes.mp4", "--dump", "{d}/mv"), 1, "not a video", absent=("mv",)),
    "motion: dump's parent missing": Case(("motion", "{d}/clip.mp4", "--dump", "{d}/nodir/mv"), 1,
                                          "directory {d}/nodir does not exist", absent=("nodir",)),
    # export (the export extra)
    "export: missing weights": Case(("export", "reference", "--weights", "{d}/missing.pt", "--out", "{d}/b"), 1,
                                    "no such weights file", absent=("b",), setup=("torch",)),
    "export: a text file as weights": Case(("export", "reference", "--weights", "{d}/notes.pt", "--out", "{d}/b"),
                                           1, "not a PyTorch state dict (a text file, not a checkpoint",
                                           absent=("b",), setup=("torch",)),
    "export: wrong class count": Case(("export", "reference", "--weights", "{weights}", "--num-classes", "5",
                                       "--out", "{d}/b"), 1, "weights do not fit reference", absent=("b",),
                                      setup=("torch",)),
    "export: a classifier ONNX": Case(("export", "{d}/classifier.onnx", "--out", "{d}/b"), 1,
                                      "not a segmentation model (its input x has rank 2", absent=("b",),
                                      setup=("torch",)),
    "export: garbage ONNX": Case(("export", "{d}/garbage.onnx", "--out", "{d}/b"), 1, "not a readable ONNX model",
                                 absent=("b",), setup=("torch",)),
    "export: failing into an existing directory keeps it": Case(
        ("export", "reference", "--weights", "{d}/notes.pt", "--out", "{d}/adir"), 1, "not a PyTorch state dict",
        present=("adir",), setup=("torch",)),
    "export: output's parent missing": Case(("export", "reference", "--out", "{d}/nodir/b"), 1,
                                            "directory {d}/nodir does not exist", absent=("nodir",),
                                            setup=("torch",)),
    # zones and MQTT (issue #30)
    "run: --zones without --stats": Case((*RUN, "--zones", "{d}/zones.toml"), 1, "add --stats FILE"),
    "run: a zone outside the frame": Case((*RUN, "--zones", "{d}/far.toml", "--stats", "{d}/s.jsonl"), 1,
                                          "zones.far.points", absent=("s.jsonl",)),
    "run: a polygon of two points": Case((*RUN, "--zones", "{d}/two.toml", "--stats", "{d}/s.jsonl"), 1,
                                         "zones.line.points: must be a list of at least 3 points",
                                         absent=("s.jsonl",)),
    "serve --check: a bad broker URL": Case(("serve", "--config", "{d}/badmqtt.toml", "--check"), 1,
                                            "mqtt.url: must be mqtt://HOST[:PORT]"),
    "serve --check: a rule naming an unknown zone": Case(("serve", "--config", "{d}/badrule.toml", "--check"), 1,
                                                         "mqtt.rules.r.zone: no camera has a zone 'door'"),
    "serve --check: missing config": Case(("serve", "--config", "{d}/none.toml", "--check"), 1,
                                          "no such config file"),
    "serve --check: absurd key": Case(("serve", "--config", "{d}/threads.toml", "--check"), 1,
                                      "model.threads: must be an integer from 1 to 256"),
}


def _silent_server(stop: threading.Event) -> int:
    """A TCP server that accepts and never answers (a hung camera): only --timeout ends the wait."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    sock.settimeout(0.2)
    held = []

    def serve():
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue
        for c in held:
            c.close()
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    clip = clips.translate_clip(d / "clip.mp4", size=(96, 64), frames=40, gop=10)
    fast = clips.remux(clip.path, d / "fast.tmp.mp4", movflags="faststart").read_bytes()  # index first
    (d / "cut.mp4").write_bytes(fast[: len(fast) * 2 // 3])  # readable up to where the data ends
    (d / "fast.tmp.mp4").unlink()
    (d / "stub.mp4").write_bytes(fast[: len(fast) * 8 // 100])  # the index, then not one whole picture
    (d / "unindexed.mp4").write_bytes(clip.path.read_bytes()[: clip.path.stat().st_size * 2 // 3])
    (d / "empty.mp4").write_bytes(b"")
    (d / "notes.mp4").write_text("these are not the frames you are looking for\n" * 50)
    (d / "adir").mkdir()
    (d / "threads.toml").write_text('[model]\nthreads = 100000\n[cameras.a]\nuri = "clip.mp4"\n')
    (d / "zones.toml").write_text("[zones.left]\nnormalized = true\npoints = [[0, 0], [0.5, 0], [0.5, 1]]\n")
    (d / "far.toml").write_text("[zones.far]\npoints = [[0, 0], [5000, 0], [5000, 10]]\n")
    (d / "two.toml").write_text("[zones.line]\npoints = [[0, 0], [10, 10]]\n")
    (d / "badmqtt.toml").write_text('[mqtt]\nurl = "http://127.0.0.1:1883"\n[cameras.a]\nuri = "clip.mp4"\n')
    (d / "badrule.toml").write_text('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n'
                                    '[[mqtt.rules]]\nname = "r"\nzone = "door"\nclass = "car"\nabove = 0.1\n'
                                    '[cameras.a]\nuri = "clip.mp4"\nzones = "zones.toml"\n')
    tiny_bundle.make(d / "bundle")
    _bad_network_bundle(d / "badnet")
    (d / "headeronly.mp4").write_bytes(_header_only(fast))
    (d / "notes.pt").write_text("not a checkpoint\n")
    _classifier(d / "classifier.onnx")
    (d / "garbage.onnx").write_bytes(bytes(range(256)) * 4)
    return d


def _classifier(path: Path) -> None:
    """A valid ONNX model that is no segmentation network: (N, 8) → (N, 4)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    tiny_bundle._save([helper.make_node("MatMul", ["x", "w"], ["y"])],
                      [numpy_helper.from_array(np.ones((8, 4), np.float32), "w")], ("x", ["N", 8]),
                      ("y", ["N", 4], TensorProto.FLOAT), path)


def _bad_network_bundle(path: Path) -> None:
    """The tiny bundle with its feature network swapped for the classifier, re-hashed so the hashes pass."""
    import json

    from edgeseg.backend.bundle import write_manifest

    tiny_bundle.make(path)
    _classifier(path / "feature.onnx")
    write_manifest(path, json.loads((path / "manifest.json").read_text()))


def _header_only(mp4: bytes) -> bytes:
    """A faststart MP4 cut right after its mdat header: an index promising frames, no frame data."""
    i = 0
    while mp4[i + 4:i + 8] != b"mdat":
        i += int.from_bytes(mp4[i:i + 4], "big")
    return mp4[:i + 8]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, inputs, tmp_path):
    import shutil

    case = CASES[name]
    for item in inputs.iterdir():  # a private copy: outputs (and leftovers) land in this test's directory
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    stop = threading.Event()
    subs = {"d": str(tmp_path)}
    if "torch" in case.setup:
        pytest.importorskip("torch")
        from edgeseg_models.reference import WEIGHTS_PATH

        subs["weights"] = str(WEIGHTS_PATH)
    if "silent" in case.setup:
        subs["silent"] = str(_silent_server(stop))
    before = set(tmp_path.rglob("*"))
    t0 = time.monotonic()
    try:
        res = CliRunner().invoke(main, [a.format(**subs) for a in case.argv])
    finally:
        stop.set()
    elapsed = time.monotonic() - t0
    out = res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), (name, repr(res.exception))
    assert "Traceback" not in out, out
    assert res.exit_code == case.exit, (name, out)
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    if case.error:
        assert len(errors) == 1, out
        assert case.line.format(**subs) in errors[0], out
    else:
        assert errors == [] and case.line in out, out
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), f"{name}: {rel} was left behind"
    for rel in case.present:
        assert (tmp_path / rel).exists(), f"{name}: {rel} is missing"
    if case.exit != 0 and "keeps-out" not in case.setup:  # a failed batch keeps its manifest
        left = sorted(str(p.relative_to(tmp_path)) for p in set(tmp_path.rglob("*")) - before)
        assert left == [], f"{name}: a failed command left {left}"
    assert elapsed < 60, f"{name}: took {elapsed:.0f} s"


def test_nothing_outside_the_work_directory_is_created(tmp_path):
    """The overlay's missing parent is not created anywhere, also at the filesystem root."""
    target = Path("/nonexistent_edgeseg_test_dir")
    assert not target.exists()
    res = CliRunner().invoke(main, ["run", "demo", "--overlay", str(target / "o.mp4")])
    assert res.exit_code == 1 and not target.exists()
