"""`edgeseg bench` end to end on a rendered clip with ground truth: table, JSON, plot, repeats, bad input."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from edgeseg.cli import main

FRAMES = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "clip"
    res = CliRunner().invoke(main, ["synth", str(out), "--frames", str(FRAMES), "--size", "96x128", "--seed", "7"])
    assert res.exit_code == 0, res.output
    return out


def _bench(*args):
    return CliRunner().invoke(main, ["bench", *map(str, args)])


def test_table_json_and_plot_with_ground_truth(clip, tmp_path):
    pytest.importorskip("matplotlib")
    report_path, plot_path = tmp_path / "t1.json", tmp_path / "fig2.png"
    res = _bench(clip / "video.mp4", "--labels", clip / "labels", "--modes", "frame,reuse,prop,interp",
                 "--intervals", "1,3", "--adaptive", "3", "--json", report_path, "--plot", plot_path,
                 "--repeat", "2", "--threads", "1", "--fusion", "linear", "--guide", "off", "--correct", "0")
    assert res.exit_code == 0, res.output
    report = json.loads(report_path.read_text())
    assert report["reference"] == "labels" and report["repeat"] == 2
    rows = {(r["mode"], r["interval"], r["keyframes"]): r for r in report["rows"]}
    assert set(rows) == {("frame", 1, "fixed"), *((m, k, "fixed") for m in ("reuse", "prop", "interp") for k in (1, 3)),
                         ("prop", 3, "adaptive"), ("interp", 3, "adaptive")}
    for r in report["rows"]:
        assert set(r) >= {"mode", "interval", "fps", "speedup", "miou_avg", "miou_min", "frames", "keyframe_fraction"}
        assert r["frames"] == FRAMES and r["fps"] > 0 and 0 <= r["miou_min"] <= r["miou_avg"] <= 100
        assert len(r["fps_passes"]) == 2 and r["fps"] == pytest.approx(np.median(r["fps_passes"]), abs=0.01)
    frame = rows[("frame", 1, "fixed")]
    assert frame["speedup"] == 1.0 and frame["keyframe_fraction"] == 1.0
    assert 0 < frame["miou_avg"] < 100  # a real model against rendered ground truth: neither 0 nor perfect
    for mode in ("reuse", "prop", "interp"):  # K = 1: every frame a keyframe, the same labels as frame mode
        assert rows[(mode, 1, "fixed")]["miou_avg"] == pytest.approx(frame["miou_avg"], abs=1e-6)
        assert rows[(mode, 1, "fixed")]["keyframe_fraction"] == 1.0
    assert rows[("prop", 3, "fixed")]["keyframe_fraction"] == pytest.approx(4 / FRAMES, abs=1e-3)  # frames 0, 3, 6, 9
    assert set(report["components_ms"]) >= {"feature", "task", "labels"}
    front = report["frontier"]
    assert [(f["avg_drop"], f["min_drop"]) for f in front] == [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0)]
    speeds = {(r["mode"], r["interval"], r["keyframes"], r.get("fusion", "linear")): r["speedup"] for r in report["rows"]}
    for f in front:  # each point is a row of the table, and no row within its budget is faster
        assert speeds[(f["mode"], f["interval"], f["keyframes"], f["fusion"])] == f["speedup"]
        assert all(s <= f["speedup"] for (m, k, kf, fu), s in speeds.items()
                   if frame["miou_avg"] - rows[(m, k, kf)]["miou_avg"] <= f["avg_drop"] + 1e-9
                   and frame["miou_min"] - rows[(m, k, kf)]["miou_min"] <= f["min_drop"] + 1e-9)
    assert "frontier vs frame mode (the model's own labels): fastest row within" in res.output
    assert "frontier_guided" not in report and "frontier vs frame mode guided" not in res.output  # no guided row
    for r in report["rows"]:  # VSPW's VC_n: the clip has 12 frames, so VC_8 has 5 windows and VC_16 none
        assert 0 <= r["vc8"] <= 100 and r["vc16"] is None
    for mode in ("reuse", "prop", "interp"):  # K = 1: frame mode's labels, so its VC too
        assert rows[(mode, 1, "fixed")]["vc8"] == frame["vc8"]
    lines = res.output.strip().split("\n\n")[0].splitlines()  # the table; the frontier follows a blank line
    assert lines[0].startswith("mIoU vs ground-truth labels") and lines[1].split()[:3] == ["mode", "K", "fps"]
    assert lines[1].split()[-2:] == ["VC8", "VC16"] and all(line.split()[-1] == "-" for line in lines[2:])
    assert len(lines) == 2 + len(report["rows"]) and lines[2].split()[:2] == ["frame", "1"]
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot_path.stat().st_size > 10_000


def test_without_labels_measures_agreement_with_frame_mode(clip):
    res = _bench(clip / "video.mp4", "--modes", "frame,interp", "--intervals", "1,4", "--adaptive", "",
                 "--max-frames", "8", "--threads", "1", "--fusion", "linear", "--guide", "off", "--correct", "0")
    assert res.exit_code == 0, res.output
    lines = res.output.strip().split("\n\n")[0].splitlines()
    assert lines[0].startswith("mIoU vs frame mode's output (agreement)")
    cells = {tuple(line.split()[:2]): line.split() for line in lines[2:]}
    assert set(cells) == {("frame", "1"), ("interp", "1"), ("interp", "4")}
    assert float(cells[("frame", "1")][4]) == 100.0 and float(cells[("interp", "1")][4]) == 100.0
    assert float(cells[("interp", "4")][4]) < 100.0  # interpolated frames differ somewhere from frame mode
    assert "VC8" not in lines[1]  # VC needs ground truth


def test_fusion_rows(clip, tmp_path):
    report_path = tmp_path / "f.json"
    res = _bench(clip / "video.mp4", "--labels", clip / "labels", "--modes", "frame,prop,interp", "--intervals", "1,4",
                 "--adaptive", "", "--fusion", "linear,photometric", "--json", report_path, "--threads", "1",
                 "--guide", "off", "--correct", "0")
    assert res.exit_code == 0, res.output
    rows = json.loads(report_path.read_text())["rows"]
    interp = {(r["fusion"], r["interval"]): r for r in rows if r["mode"] == "interp"}
    assert set(interp) == {(f, k) for f in ("linear", "photometric") for k in (1, 4)}
    assert all("fusion" not in r for r in rows if r["mode"] != "interp")  # fusion is interp's alone
    assert interp[("photometric", 1)]["miou_avg"] == pytest.approx(rows[0]["miou_avg"], abs=1e-6)  # no gaps at K = 1
    assert interp[("photometric", 4)]["miou_avg"] != interp[("linear", 4)]["miou_avg"]  # the weights changed labels
    assert "frontier_guided" not in json.loads(report_path.read_text())  # --guide off: no frame mode guided row
    names = [" ".join(line.split()[:-8]) for line in res.output.strip().split("\n\n")[0].splitlines()[2:]]
    assert names.count("interp photometric") == 2 and names.count("interp") == 2


def test_guided_and_corrected_rows(clip, tmp_path):
    """--guide off,on: every row plain and guided, frame mode guided as a row of its own after the reference
    (frame mode plain, the model's own labels); --correct: prop/interp rows once per budget, with their tiles."""
    report_path = tmp_path / "g.json"
    res = _bench(clip / "video.mp4", "--labels", clip / "labels", "--modes", "frame,prop,interp", "--intervals", "1,4",
                 "--adaptive", "", "--fusion", "photometric", "--guide", "off,on", "--correct", "0,0.5",
                 "--json", report_path, "--threads", "1")
    assert res.exit_code == 0, res.output
    report = json.loads(report_path.read_text())
    rows = report["rows"]
    assert [(r["mode"], r["guide"]) for r in rows[:2]] == [("frame", False), ("frame", True)]
    assert rows[0]["speedup"] == 1.0 and rows[1]["miou_avg"] != rows[0]["miou_avg"]  # guidance moved labels
    key = {(r["mode"], r["interval"], r["guide"], r.get("correct")): r for r in rows[2:]}
    assert set(key) == {(m, k, g, c) for m in ("prop", "interp") for k in (1, 4) for g in (False, True)
                        for c in (None, 0.5)}
    for m in ("prop", "interp"):  # K = 1: every frame a keyframe, as frame mode (plain or guided)
        for g, c in ((False, None), (True, None), (True, 0.5)):
            assert key[(m, 1, g, c)]["miou_avg"] == pytest.approx(rows[int(g)]["miou_avg"], abs=1e-6)
    assert all(r["tiles_per_frame"] >= 0 for r in rows if r.get("correct"))
    names = [" ".join(line.split()[:-8]) for line in res.output.strip().split("\n\n")[0].splitlines()[2:]]
    assert names[:2] == ["frame", "frame guided"] and "interp photometric guided correct=0.5" in names
    # two frontiers: against frame mode unguided (rows[0]) and against frame mode guided (rows[1])
    for key, ref in (("frontier", rows[0]), ("frontier_guided", rows[1])):
        speeds = {(r["mode"], r["interval"], r["guide"], r.get("correct"), r.get("fusion")): r["speedup"] for r in rows}
        for f in report[key]:
            assert ref["miou_avg"] - f["miou_avg"] <= f["avg_drop"] + 1e-9
            assert ref["miou_min"] - f["miou_min"] <= f["min_drop"] + 1e-9
            assert speeds[(f["mode"], f["interval"], f["guide"], f["correct"], f.get("fusion") if f["mode"] == "interp"
                           else None)] == f["speedup"]  # each point is a row of the table
            assert all(r["speedup"] <= f["speedup"] for r in rows  # and no row within the budget is faster
                       if ref["miou_avg"] - r["miou_avg"] <= f["avg_drop"] + 1e-9
                       and ref["miou_min"] - r["miou_min"] <= f["min_drop"] + 1e-9)
    frontier_text = res.output.strip().split("\n\n")[1:]
    assert [t.splitlines()[0].split(":")[0] for t in frontier_text] == [
        "frontier vs frame mode (the model's own labels)", "frontier vs frame mode guided (the best on every frame)"]


@pytest.mark.parametrize("args, message", [
    (["--fusion", "median"], "Error: --fusion 'median': unknown fusion 'median'; choose from linear, photometric"),
    (["--fusion", ","], "Error: --fusion ',': empty fusion list"),
    (["--modes", "frame,warp"], "Error: --modes 'frame,warp': unknown mode 'warp'"),
    (["--intervals", ","], "Error: --intervals ',': empty interval list"),
    (["--intervals", "2,x"], "Error: --intervals '2,x': expected comma-separated integers"),
    (["--correct", "0,1.5"], "Error: --correct '0,1.5': budgets must be in (0, 1]"),
])
def test_bad_options_are_one_line(clip, args, message):
    res = _bench(clip / "video.mp4", *args)
    assert res.exit_code == 1 and res.output.startswith(message) and len(res.output.strip().splitlines()) == 1


def test_labels_that_do_not_match_the_video_are_one_line(clip, tmp_path):
    few = tmp_path / "few"
    shutil.copytree(clip / "labels", few)
    (few / f"frame-{FRAMES - 1:06d}.png").unlink()
    res = _bench(clip / "video.mp4", "--labels", few, "--modes", "frame")
    assert res.exit_code == 1
    assert res.output.strip() == f"Error: --labels {few}: {FRAMES - 1} label files for a video of {FRAMES} frames"

    from edgeseg.sink.png import write_png

    small = tmp_path / "small"
    small.mkdir()
    for i in range(FRAMES):
        write_png(small / f"frame-{i}.png", np.zeros((48, 64), np.uint8))
    res = _bench(clip / "video.mp4", "--labels", small, "--modes", "frame")
    assert res.exit_code == 1
    assert res.output.strip() == f"Error: --labels {small}: labels are 64×48, the video is 128×96"


def test_frontier_from_hand_built_rows():
    from edgeseg.bench.frontier import frontier

    def row(mode, k, avg, mn, speedup, fusion="linear", keyframes="fixed"):
        return {"mode": mode, "interval": k, "miou_avg": avg, "miou_min": mn, "speedup": speedup,
                "fusion": fusion, "keyframes": keyframes}

    rows = [row("frame", 1, 80.0, 70.0, 1.0),
            row("prop", 3, 79.6, 69.2, 3.0),          # within 0.5 / 1.0
            row("interp", 5, 79.0, 68.0, 5.0),        # within 1.0 / 2.0 exactly (the bounds count)
            row("interp", 6, 79.2, 67.9, 5.5, "photometric"),  # avg fine, min 2.1 below: not within 1.0 / 2.0
            row("interp", 10, 78.1, 66.5, 8.0, keyframes="adaptive"),  # within 2.0 / 4.0
            row("reuse", 10, 60.0, 40.0, 9.0)]        # fastest, but within no budget
    best = frontier(rows)
    assert [(b["avg_drop"], b["min_drop"]) for b in best] == [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0)]
    assert [(b["mode"], b["interval"], b["speedup"]) for b in best] == [("prop", 3, 3.0), ("interp", 5, 5.0),
                                                                          ("interp", 10, 8.0)]
    assert best[2]["keyframes"] == "adaptive" and best[1]["fusion"] == "linear"
    only_frame = frontier([rows[0], rows[-1]])
    assert all(b["mode"] == "frame" and b["speedup"] == 1.0 for b in only_frame)
    with pytest.raises(ValueError, match="frame mode"):
        frontier(rows[1:])
