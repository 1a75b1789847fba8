"""Where a frame's time goes at the sizes cameras record: per-stage cost of `edgeseg run` next to the decode floor.

    python benchmarks/bench_resolution.py CLIP [CLIP ...] [--frames 120] [--rounds 3] [--json out.json]

For each clip, in each round (paired, so a slow phase of a shared machine hits every measurement alike):
- floor: a plain PyAV decode of the file (threads auto, no motion vectors), ms per frame;
- decode + vectors: edgeseg's own source (motion-vector export, GOP-parallel decoding) with nothing else;
- + motion field: the same with the dense motion fields built (edgeseg.motion.dense);
- run --stats / --masks / --overlay / no outputs: `segment_source` with default settings (what `edgeseg run`
  calls), wall ms and process CPU ms per frame. With no outputs no labels are made at all (labels are made
  when an output reads them).
The segmenter's own stage times per frame (prep, feature, task, warp, carry, labels, labels-sampled: labels
are timed on the thread that makes them) come from the --stats and --masks runs.
Reported: medians over rounds; "stats ÷ floor" is the run --stats fps over the decode fps, the median of the
per-round ratios (issue #29's target: ≥ 0.75 at 720p and 1080p).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = ("none", "stats", "masks", "overlay")


def decode_floor(clip: str, frames: int) -> tuple[float, int]:
    """(ms per frame, frames) of a plain PyAV decode, threads auto."""
    import av

    n, t0 = 0, time.perf_counter()
    with av.open(clip) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in c.decode(stream):
            n += 1
            if n >= frames:
                break
    return 1e3 * (time.perf_counter() - t0) / max(n, 1), n


def source_pass(clip: str, frames: int, *, fields: bool) -> tuple[float, float]:
    """(wall ms, CPU ms) per frame of edgeseg's source with vectors, and the motion fields if `fields`."""
    from edgeseg.motion.dense import MotionFieldBuilder
    from edgeseg.source import open_source

    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    with open_source(clip) as src:
        items = MotionFieldBuilder(stride=16).fields(src) if fields else src
        for _ in items:
            n += 1
            if n >= frames:
                break
    return 1e3 * (time.perf_counter() - t0) / max(n, 1), 1e3 * (time.process_time() - c0) / max(n, 1)


def run_pass(clip: str, frames: int, config: str, out: Path) -> dict:
    from edgeseg.pipeline import SegmentSpec, segment_source
    from edgeseg.sink.outputs import OutputSpec

    out.mkdir(parents=True, exist_ok=True)
    outputs = {"stats": {"stats": out / "s.jsonl"}, "masks": {"masks": out / "m"},
               "overlay": {"overlay": out / "o.mp4"}}.get(config, {})
    c0 = time.process_time()
    summary = segment_source(clip, SegmentSpec(), max_frames=frames, outputs=OutputSpec(**outputs))
    n = max(summary.frames, 1)
    return {"ms": 1e3 * summary.seconds / n, "cpu_ms": 1e3 * (time.process_time() - c0) / n,
            "frames": summary.frames, "stages": summary.extra.get("stage_ms", {})}


def measure(clip: str, *, frames: int, rounds: int, tmp: Path, log=print) -> dict:
    """Every measurement of one clip, `rounds` times; medians and the per-round stats ÷ floor ratios."""
    from edgeseg.source import open_source

    with open_source(clip) as src:
        size = (src.info.height, src.info.width)
    run_pass(clip, min(frames, 20), "stats", tmp / "warm")  # kernels loaded, caches warm
    raw: dict[str, list] = {"floor": [], "vectors": [], "vectors_cpu": [], "fields": [], "fields_cpu": [],
                            **{c: [] for c in CONFIGS}}
    for r in range(rounds):
        floor, _ = decode_floor(clip, frames)
        raw["floor"].append(floor)
        v, vc = source_pass(clip, frames, fields=False)
        f, fc = source_pass(clip, frames, fields=True)
        raw["vectors"].append(v), raw["vectors_cpu"].append(vc), raw["fields"].append(f), raw["fields_cpu"].append(fc)
        order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
        for config in order:
            raw[config].append(run_pass(clip, frames, config, tmp / f"r{r}-{config}"))
        log(f"{clip} round {r + 1}: floor {floor:.2f} ms, run --stats {raw['stats'][-1]['ms']:.2f} ms")
    return summarise(clip, size, raw)


def summarise(clip: str, size, raw: dict) -> dict:
    """Medians of the raw rounds; ratio = median over rounds of floor ms ÷ run --stats ms (= fps ratio)."""
    med = statistics.median
    runs = {c: {"ms": med(x["ms"] for x in raw[c]), "cpu_ms": med(x["cpu_ms"] for x in raw[c])} for c in CONFIGS}
    stages: dict[str, float] = {}
    for c in ("stats", "masks"):
        for name in {k for x in raw[c] for k in x["stages"]}:
            if c == "masks" or name != "labels":
                stages.setdefault(name, med(x["stages"].get(name, 0.0) for x in raw[c]))
    ratios = [f / s["ms"] for f, s in zip(raw["floor"], raw["stats"], strict=True)]
    return {"clip": clip, "size": list(size), "floor_ms": med(raw["floor"]),
            "vectors_ms": med(raw["vectors"]), "vectors_cpu_ms": med(raw["vectors_cpu"]),
            "fields_ms": med(raw["fields"]), "fields_cpu_ms": med(raw["fields_cpu"]),
            "runs": runs, "stages_ms": stages, "stats_vs_floor": med(ratios), "stats_vs_floor_rounds": ratios}


def table(results: list[dict]) -> str:
    cols = [f"{r['size'][0]}×{r['size'][1]}" for r in results]
    rows = [("PyAV decode only (floor)", [r["floor_ms"] for r in results]),
            ("decode + vectors", [r["vectors_ms"] for r in results]),
            ("  + motion fields", [r["fields_ms"] for r in results])]
    names = sorted({k for r in results for k in r["stages_ms"]})
    rows += [(f"stage: {n}", [r["stages_ms"].get(n, 0.0) for r in results]) for n in names]
    for c in CONFIGS:
        rows.append((f"run, {c}: wall", [r["runs"][c]["ms"] for r in results]))
        rows.append((f"run, {c}: CPU", [r["runs"][c]["cpu_ms"] for r in results]))
    lines = ["| ms per frame | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |" for name, vals in rows]
    lines.append("| **run --stats fps ÷ decode fps** | " + " | ".join(f"**{r['stats_vs_floor']:.2f}**"
                                                               for r in results) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from edgeseg.cli.warmup import compile_first

    compile_first(lambda text: print(text, file=sys.stderr))  # else the NumPy paths are measured
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(c, frames=a.frames, rounds=a.rounds, tmp=Path(tmp) / str(i),
                           log=lambda s: print(s, file=sys.stderr)) for i, c in enumerate(a.clips)]
    print(table(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
