"""`edgeseg serve` throughput and latency with 1, 2, 4, 8 cameras sharing one model; and a soak mode.

    nice python benchmarks/bench_serve.py [--bundle DIR] [--clip FILE] [--streams 1,2,4,8] [--seconds 20]
        [--mode prop] [-k 10] [--batching 8/0,8/20,1/0] [--realtime] [--json OUT]
    nice python benchmarks/bench_serve.py --soak 30 --streams 2 --realtime [--json OUT]
    nice python benchmarks/bench_serve.py --soak 5 --streams 2 --clip-frames 20      # stress: reopen every 20 frames

Every camera loops the same clip (without --clip: a 640×360 H.264 clip, 2 B-frames, GOP 50, rendered by
tests/clips.py). Throughput runs decode as fast as the pipeline takes frames (capacity); --realtime paces each
camera at the clip's frame rate like a live camera. Stats JSONL on, overlays off (encoding is its own cost).
Figures: streams × fps, per-stream fps, per-frame latency p50/p95 (push → result), feature batch sizes.
Soak: RSS (VmRSS) sampled every 10 s for --soak minutes, with the frames segmented so far; reports RSS at 1 min,
half time, end, max, and the slope over the second half (flat = no leak once warmed up). Without --realtime and
with a short clip (--clip-frames) it is a stress run: every camera reopens its source every few frames.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from edgeseg.backend.networks import open_networks  # noqa: E402
from edgeseg.service.config import parse_config  # noqa: E402
from edgeseg.service.notify import Notifier  # noqa: E402
from edgeseg.service.service import Service  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def soak_summary(samples: list[tuple[float, float]]) -> dict:
    """RSS at 1 min, at half time, at the end, its max, and the least-squares slope over the second half
    (warm-up growth — allocator arenas, onnxruntime's memory arena — happens early; a leak keeps the slope up)."""
    ts, ms = np.array([s[0] for s in samples]), np.array([s[1] for s in samples])
    half = ts >= ts[-1] / 2
    slope = float(np.polyfit(ts[half], ms[half], 1)[0] * 3600) if half.sum() > 2 else float("nan")
    return {"rss_1min_mb": float(ms[np.searchsorted(ts, 60.0).clip(0, len(ms) - 1)]),
            "rss_half_mb": float(ms[half][0]), "rss_end_mb": float(ms[-1]), "rss_max_mb": float(ms.max()),
            "rss_slope_second_half_mb_per_h": round(slope, 2)}


def make_clip(out: Path, frames: int = 100) -> Path:
    import clips

    return clips.translate_clip(out, size=(640, 360), frames=frames, bframes=2, gop=min(50, frames), fps=25,
                                shift_xy=(1.5, -0.75)).path


def run(*, nets, bundle, clip: Path, streams: int, seconds: float, mode: str, k: int, max_batch: int,
        wait_ms: float, realtime: bool, out: Path, sample=None) -> dict:
    cams = {f"cam{i}": {"uri": str(clip), "loop": True, "realtime": realtime} for i in range(streams)}
    cfg = parse_config({
        "model": {"max_batch": max_batch, "batch_wait_ms": wait_ms},
        "defaults": {"output_dir": str(out), "mode": mode, "keyframe_interval": k, "overlay": False,
                     "segment_seconds": 60, "retention_mb": 500},
        "cameras": cams, "metrics": {"enabled": False}, "service": {"stall_seconds": 120}}, path=out / "b.toml")
    svc = Service(cfg, notifier=Notifier(None), nets=nets, bundle=bundle)
    th = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    th.start()
    warm = min(3.0, seconds / 4)
    time.sleep(warm)
    f0, t0 = {n: w.frames for n, w in svc.workers.items()}, time.monotonic()
    b0 = len(svc.shared.batches)
    end = t0 + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(10.0, left))
        if sample is not None:
            sample(time.monotonic() - t0, sum(w.frames for w in svc.workers.values()))
    f1, t1 = {n: w.frames for n, w in svc.workers.items()}, time.monotonic()
    batches = list(svc.shared.batches[b0:])
    wall_start = time.time() - (t1 - t0)
    svc.request_stop()
    th.join()
    lat = []
    for p in out.rglob("*.jsonl"):
        for line in p.read_text().splitlines():
            x = json.loads(line)
            if x["time"] >= wall_start:
                lat.append(x["latency_ms"])
    per = [(f1[n] - f0[n]) / (t1 - t0) for n in f0]
    return {"streams": streams, "mode": mode, "k": k, "max_batch": max_batch, "wait_ms": wait_ms,
            "realtime": realtime,
            "total_fps": round(sum(per), 2), "per_stream_fps": round(float(np.mean(per)), 2),
            "min_stream_fps": round(min(per), 2),
            "latency_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat else None,
            "latency_p95_ms": round(float(np.percentile(lat, 95)), 1) if lat else None,
            "mean_batch": round(float(np.mean(batches)), 2) if batches else None,
            "seconds": round(t1 - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", default=None, help="model bundle (default: the shipped reference model)")
    ap.add_argument("--clip", default=None)
    ap.add_argument("--clip-frames", type=int, default=100, help="frames of the generated clip (each loop reopens it)")
    ap.add_argument("--streams", default="1,2,4,8")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--mode", default="prop")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--batching", default="8/0",
                    help="comma list of MAX_BATCH/WAIT_MS, e.g. 8/0,8/20,1/0 (1/0: no batching)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--realtime", action="store_true")
    ap.add_argument("--soak", type=float, default=0.0, help="minutes: memory soak run instead of the sweep")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    from edgeseg.cli.warmup import compile_first

    compile_first(lambda text: print(text, file=sys.stderr))  # else the NumPy paths are measured
    nets, bundle = open_networks(a.bundle, backend="ort-cpu", threads=a.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(a.clip) if a.clip else make_clip(Path(tmp) / "cam.mp4", a.clip_frames)
        print(f"model {bundle.path} {bundle.input_hw}, clip {clip}", file=sys.stderr)
        if a.soak:
            samples = []
            n = int(a.streams.split(",")[0])

            def sample(t, frames):
                samples.append((round(t, 1), round(rss_mb(), 1), frames))
                print(f"  t={t:7.1f} s  RSS {samples[-1][1]:.1f} MB  {frames} frames", file=sys.stderr, flush=True)

            row = run(nets=nets, bundle=bundle, clip=clip, streams=n, seconds=a.soak * 60, mode=a.mode, k=a.k,
                      max_batch=int(a.batching.split(",")[0].split("/")[0]),
                      wait_ms=float(a.batching.split(",")[0].split("/")[1]), realtime=a.realtime, out=Path(tmp) / "soak",
                      sample=sample)
            row.update(soak_minutes=a.soak, samples=samples, **soak_summary(samples))
            rows.append(row)
        else:
            for variant in a.batching.split(","):
                mb, wait = int(variant.split("/")[0]), float(variant.split("/")[1])
                for n in [int(x) for x in a.streams.split(",")]:
                    row = run(nets=nets, bundle=bundle, clip=clip, streams=n, seconds=a.seconds, mode=a.mode,
                              k=a.k, max_batch=mb, wait_ms=wait, realtime=a.realtime,
                              out=Path(tmp) / f"s{n}-b{mb}-w{wait:g}")
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    print("| streams | max batch / wait ms | total fps | per-stream fps (min) | latency p50 / p95 ms | mean batch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['streams']} | {r['max_batch']} / {r['wait_ms']:g} | {r['total_fps']} | {r['per_stream_fps']} ({r['min_stream_fps']}) "
              f"| {r['latency_p50_ms']} / {r['latency_p95_ms']} | {r['mean_batch']} |")
        if "rss_end_mb" in r:
            print(f"\nsoak {r['soak_minutes']} min: RSS at 1 min {r['rss_1min_mb']} MB, at half time "
                  f"{r['rss_half_mb']} MB, end {r['rss_end_mb']} MB, max {r['rss_max_mb']} MB; slope over the "
                  f"second half {r['rss_slope_second_half_mb_per_h']} MB/h")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
