"""Accuracy vs throughput of every mode and keyframe interval, measured in one run (the paper's Table 1).

Usage: ``report = benchmark("clip.mp4", BenchGrid(modes=("frame", "prop", "interp"), intervals=(2, 5, 10)),
nets=nets, bundle=bundle, labels_dir="labels/")``; ``print(format_table(report))``

Each row decodes the clip from scratch and runs the whole pipeline (decode → motion → networks → labels, no
file writing); the time spent scoring against the reference is measured and left out of the row's fps.
mIoU: "avg" accumulates one confusion matrix over all frames; "min" is the lowest mIoU among the groups of
frames at the same offset from their keyframe (the paper's worst-case frame).
Without ground-truth labels the reference is frame mode's own output (agreement). With them, rows also carry
VSPW's video consistency "vc8" and "vc16" (edgeseg.bench.consistency; None for a clip shorter than the window).
Under the table, the frontier against frame mode unguided and, where that row exists, frame mode guided.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from edgeseg.bench.consistency import VideoConsistency
from edgeseg.bench.frontier import FRONTIERS, format_frontier, frontiers, row_name
from edgeseg.bench.grid import BenchGrid, row_of, row_spec
from edgeseg.bench.metrics import confusion, miou
from edgeseg.errors import ConfigError
from edgeseg.limits import SPEC
from edgeseg.pipeline import (
    FUSIONS,
    MODES,
    Segmenter,
    build_segmenter,
    motion_pairs,
    open_for,
    run_stream,
)
from edgeseg.pipeline.modes import REFERENCE
from edgeseg.sink.masks import mask_name
from edgeseg.source import open_source

VC_LENGTHS = (8, 16)  # VSPW's VC_8 and VC_16: rows carry vc8 and vc16 when ground truth is given


def _parse_choices(text: str, *, option: str, what: str, choices) -> list[str]:
    """Comma-separated names from `choices`, in order, without repeats; a one-line error names the bad one."""
    choices = tuple(choices)
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in choices]
    if bad or not names:
        raise ConfigError(f"{option} {text!r}: unknown {what} {bad[0]!r}; choose from {', '.join(choices)}"
                          if bad else f"{option} {text!r}: empty {what} list")
    return list(dict.fromkeys(names))


def parse_modes(text: str) -> list[str]:
    """"frame,interp" → ["frame", "interp"]: names registered in edgeseg.pipeline.modes.MODES."""
    return _parse_choices(text, option="--modes", what="mode", choices=MODES)


def parse_fusions(text: str) -> list[str]:
    """"linear,photometric" → the list: names registered in edgeseg.pipeline.interpolate.FUSIONS."""
    return _parse_choices(text, option="--fusion", what="fusion", choices=FUSIONS)


def parse_corrections(text: str) -> list[float | None]:
    """"0,0.25" → [None, 0.25]: correction budgets for prop/interp rows (0: a row without correction)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--correct {text!r}: expected comma-separated budgets such as 0,0.25") from None
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if not values or bad:
        raise ConfigError(f"--correct {text!r}: budgets must be in (0, 1], or 0 for rows without correction")
    return [v or None for v in dict.fromkeys(values)]


def parse_intervals(text: str) -> list[int]:
    try:
        ks = [int(k) for k in text.split(",") if k.strip()]
    except ValueError:
        raise ConfigError(f"--intervals {text!r}: expected comma-separated integers such as 1,2,5,10") from None
    if not ks:
        raise ConfigError(f"--intervals {text!r}: empty interval list")
    limit = SPEC["keyframe_interval"]
    if not all(limit.ok(k) for k in ks):
        raise ConfigError(f"--intervals {text!r}: each interval must be {limit.describe()}")
    return ks


class LabelDir:
    """Ground truth: DIR/frame-000000.png, … (8-bit class indices; unpadded names from before are read too), one per decoded frame in display order."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise ConfigError(f"--labels {self.dir}: no such directory")
        self.count = len(list(self.dir.glob("frame-*.png")))
        if self.count == 0:
            raise ConfigError(f"--labels {self.dir}: no frame-<i>.png files (frame-000000.png, …)")

    def __getitem__(self, i: int) -> np.ndarray:
        from edgeseg.sink.png import read_png

        path = self.dir / mask_name(i)
        if not path.exists():  # label directories from before zero-padded names
            path = self.dir / f"frame-{i}.png"
        if not path.exists():
            raise ConfigError(f"--labels {self.dir}: {path.name} is missing")
        return read_png(path)

    def check(self, *, frames: int, size: tuple[int, int], at_least: bool = False) -> None:
        """The labels must cover the video frame for frame (`at_least`: a prefix of it is evaluated)."""
        if self.count < frames or (self.count != frames and not at_least):
            raise ConfigError(f"--labels {self.dir}: {self.count} label files for a video of {frames} frames")
        first = self[0]
        if first.shape[:2] != size:
            raise ConfigError(f"--labels {self.dir}: labels are {first.shape[1]}×{first.shape[0]}, "
                              f"the video is {size[1]}×{size[0]}")


def _count_frames(spec: str, max_frames: int | None) -> tuple[int, tuple[int, int]]:
    n, size = 0, None
    with open_source(spec, export_mvs=False) as src:
        for frame in src:
            size = size or (frame.height, frame.width)
            n += 1
            if max_frames and n >= max_frames:
                break
    if n == 0:
        raise ConfigError(f"{spec}: no decodable frames")
    return n, size


def _make_labels(result) -> None:
    """Make a result's full-resolution labels now, in the timed pipeline (Result defers them to their first
    reader, and the scorer's time is excluded from fps)."""
    result.labels  # noqa: B018 - the property makes them


class _Scorer:
    """Per-offset confusion matrices against a reference, and VC_8 / VC_16 where it is ground truth; its own
    time is tracked so fps can exclude it."""

    def __init__(self, reference, num_classes: int, *, video_consistency: bool = False):
        self.reference, self.k = reference, num_classes
        self.by_offset: dict[int, np.ndarray] = {}
        self.offset, self.seconds, self.frames = 0, 0.0, 0
        self.vc = VideoConsistency(VC_LENGTHS) if video_consistency else None

    def __call__(self, result) -> None:
        t0 = time.perf_counter()
        self.offset = 0 if result.keyframe else self.offset + 1
        truth = self.reference(result.frame.index)
        cm = confusion(result.labels, truth, num_classes=self.k)
        acc = self.by_offset.setdefault(self.offset, np.zeros_like(cm))
        acc += cm
        if self.vc is not None:  # results arrive in display order
            self.vc.add(result.labels, truth)
        self.frames += 1
        self.seconds += time.perf_counter() - t0

    def scores(self) -> tuple[float, float]:
        total = sum(self.by_offset.values())
        return miou(total), min(miou(cm) for cm in self.by_offset.values())

    def consistency(self) -> dict[str, float | None]:
        """{"vc8": …, "vc16": …} in percent (None: the clip is shorter than the window); {} without labels."""
        if self.vc is None:
            return {}
        return {f"vc{n}": None if v is None else round(v, 3) for n, v in self.vc.scores().items()}


def _row_report(row: dict, scorer: _Scorer | None, seg: Segmenter, frames: int) -> dict:
    """A row of the report from its first pass (fps and speedup are added once every pass has run)."""
    avg, worst = scorer.scores() if scorer is not None else (100.0, 100.0)
    out = {key: row[key] for key in ("mode", "interval", "keyframes")}
    out.update(miou_avg=avg, miou_min=worst, frames=frames, keyframe_fraction=seg.keyframes / max(frames, 1))
    if scorer is not None:
        out.update(scorer.consistency())
    if MODES.get(row["mode"]).hold:
        out["fusion"] = row["fusion"]
    if row["correct"]:
        out.update(correct=row["correct"], tiles_per_frame=round(seg.corrected_tiles / max(frames, 1), 3))
    out["guide"] = row["guide"]
    return out


def benchmark(source: str, grid: BenchGrid, *, nets, bundle, labels_dir=None, max_frames: int | None = None,
              repeat: int = 1, progress=None) -> dict:
    """Run every row of `grid` (edgeseg.bench.grid) over the video `source`; returns the JSON-ready report.

    Rows with corrections carry "correct" and "tiles_per_frame"; every row carries "fusion" and "guide". The
    reference row is frame mode unguided, the model's own labels; frame mode guided is a row of its own.
    repeat: timing passes (frame mode, then every row, each pass): a row's fps is its median over the passes
    and its speedup the median of its per-pass ratio to that pass's frame mode. mIoU comes from the first
    pass (it is deterministic); later passes only time.
    The report's "frontier" is measured against frame mode unguided, "frontier_guided" (when frame mode guided
    is a row) against frame mode guided (edgeseg.bench.frontier.frontiers).
    """
    if repeat < 1:
        raise ConfigError(f"--repeat {repeat}: must be at least 1")
    n, size = _count_frames(source, max_frames)
    labels = LabelDir(labels_dir) if labels_dir is not None else None
    if labels is not None:
        labels.check(frames=n, size=size, at_least=max_frames is not None)
    k_classes = len(bundle.classes)

    def run_row(row: dict, on_result, frames: int | None = max_frames) -> tuple[float, int, Segmenter]:
        spec = row_spec(row)
        seg = build_segmenter(spec, nets=nets, bundle=bundle)
        with open_for(spec, source) as src:
            summary = run_stream(motion_pairs(src, spec), seg, max_frames=frames, on_result=on_result)
        return summary.seconds, summary.frames, seg

    # frame mode first: it is the speed baseline, and the agreement reference without labels
    frame_out: dict[int, np.ndarray] = {}

    def keep(result):
        if labels is None:
            frame_out[result.frame.index] = result.labels

    reference = labels.__getitem__ if labels is not None else frame_out.__getitem__

    todo = grid.rows()
    rows, fps_passes, components = [], [[] for _ in todo], {}
    tiles = next((c for c in grid.corrections if c), None)  # the correction's tile network is made on first use
    for warm in (row_of(REFERENCE, 1), row_of("interp", 4, correct=tiles, guide=True in grid.guides)):
        run_row(warm, _make_labels, frames=min(12, n))  # warm-up: first calls stay out of the rows
    for p in range(repeat):
        for i, row in enumerate(todo):
            if progress and i:
                progress(p * (len(todo) - 1) + i - 1, repeat * (len(todo) - 1), row_name(row), row["interval"])
            first = p == 0 and i == 0
            scorer = (_Scorer(reference, k_classes, video_consistency=labels is not None)
                      if p == 0 and (labels is not None or i > 0) else None)

            def on_result(r, scorer=scorer, first=first):
                _make_labels(r)  # timed: a Result makes its labels when first read
                if first:
                    keep(r)
                if scorer is not None:
                    scorer(r)

            seconds, frames, seg = run_row(row, on_result)
            fps_passes[i].append(frames / max(seconds - (scorer.seconds if scorer else 0.0), 1e-9))
            if p == 0:
                if i == 0:
                    components = {k_: round(v, 3) for k_, v in seg.timings.mean_ms().items()}
                rows.append(_row_report(row, scorer, seg, frames))
    _timings(rows, fps_passes, repeat)
    return {"reference": "labels" if labels is not None else REFERENCE, "source": str(source), "repeat": repeat,
            "rows": rows, **frontiers(rows), "components_ms": components}


def _timings(rows: list[dict], fps_passes: list[list[float]], repeat: int) -> None:
    """Each row's fps (median over the passes) and speedup (median of its per-pass ratio to frame mode's)."""
    for row, fps in zip(rows, fps_passes, strict=True):
        row["fps"] = float(np.median(fps))
        row["speedup"] = float(np.median(np.asarray(fps) / np.asarray(fps_passes[0])))
        if repeat > 1:
            row["fps_passes"] = [round(f, 2) for f in fps]
        for key in ("fps", "speedup", "miou_avg", "miou_min", "keyframe_fraction"):
            row[key] = round(float(row[key]), 3)


def format_table(report: dict) -> str:
    """The report laid out like the paper's Table 1; with ground truth also VC_8 / VC_16 ("-": clip too short)."""
    ref = "ground-truth labels" if report["reference"] == "labels" else "frame mode's output (agreement)"
    names = [row_name(r) for r in report["rows"]]
    width = max([16, *map(len, names)])
    vc = [key for key in ("vc8", "vc16") if any(key in r for r in report["rows"])]
    lines = [f"mIoU vs {ref}; fps = whole pipeline, decode → labels" + ("; VC_n in %" if vc else ""),
             f"{'mode':<{width}} {'K':>3} {'fps':>8} {'speedup':>8} {'avg mIoU':>9} {'min mIoU':>9} {'key %':>6}"
             + "".join(f" {key.upper():>6}" for key in vc)]
    for name, r in zip(names, report["rows"], strict=True):
        cells = "".join(f" {r[key]:>6.1f}" if r.get(key) is not None else f" {'-':>6}" for key in vc)
        lines.append(f"{name:<{width}} {r['interval']:>3} {r['fps']:>8.1f} {r['speedup']:>7.2f}× "
                     f"{r['miou_avg']:>9.1f} {r['miou_min']:>9.1f} {100 * r['keyframe_fraction']:>6.1f}{cells}")
    for key, against in FRONTIERS.items():
        if report.get(key):
            lines += ["", format_frontier(report[key], against=against)]
    return "\n".join(lines)


def plot(report: dict, path: str | Path) -> None:
    """Accuracy vs throughput, one line per mode over its intervals (the paper's Figure 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.4, 4.6), dpi=120)

    series = row_name

    for mode in dict.fromkeys(series(r) for r in report["rows"]):
        rows = sorted((r for r in report["rows"] if series(r) == mode), key=lambda r: r["interval"])
        ax.plot([r["fps"] for r in rows], [r["miou_avg"] for r in rows], "o-" if len(rows) > 1 else "s",
                label=mode)
        for r in rows:
            if r["mode"] != REFERENCE:
                ax.annotate(str(r["interval"]), (r["fps"], r["miou_avg"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    fps = {(row_name(r), r["interval"]): r["fps"] for r in report["rows"]}
    guided = bool(report.get("frontier_guided"))  # the stricter reference where it was measured
    for p in report.get("frontier_guided" if guided else "frontier", []):  # the fastest row within each budget
        x = fps[(row_name(p), p["interval"])]
        ax.plot([x], [p["miou_avg"]], "*", color="black", markersize=12, zorder=5)
        ax.annotate(f"≤{p['avg_drop']:g}/{p['min_drop']:g}", (x, p["miou_avg"]), fontsize=7, xytext=(4, -10),
                    textcoords="offset points")
    ax.set_xlabel("throughput (frames/s)")
    ax.set_ylabel("avg mIoU (%)" + (" vs labels" if report["reference"] == "labels" else " agreement with frame"))
    ax.grid(alpha=0.3)
    ax.plot([], [], "*", color="black", markersize=10,
            label="frontier vs frame " + ("guided" if guided else "(model's labels)") + ": avg/min drop")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)  # outside the curves
    ax.set_title("accuracy vs throughput (labels: keyframe interval K)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
