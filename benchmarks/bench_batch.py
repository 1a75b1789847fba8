"""`edgeseg batch` scaling: total throughput of 1 vs 2 local workers on 8 clips and on one long clip (through
IDR shards), the per-shard overhead of each engine, and optionally Ray (local, or a two-node `ray start` cluster).

    python benchmarks/bench_batch.py [--frames 120] [--size 480x360] [--clips DIR] [--ray] [--two-node] [--json OUT]
    python benchmarks/bench_batch.py --hd 120                        # per-frame cost at 1920×1080

Clips: 480×360 synthetic street video (edgeseg.synth, libx264 veryfast, 2 B-frames); the 8 clips have one
IDR each; the long clip is 8 × --frames frames with an IDR every --frames / 2 frames, batched with
--shard-frames = --frames (8 shards). Settings: the default spec (interp, K = 10). Each worker runs onnxruntime
on one thread (so 1 vs 2 workers compares processes, not threads); "1 worker, 2 threads" is the CLI default on
a 2-core machine with --workers 1. Every configuration runs once per round (--rounds, order rotating between
rounds); the ratios are of the median fps, with each round's own ratio beside them.
Each engine is started first (startup_s: pool processes spawned and the model opened in each; Ray started
or joined), then the batch is timed (wall_s, fps): the throughput of a long batch, whose startup is amortised.
Per-shard overhead = (wall × workers − Σ shard seconds) / shards: everything in the timed batch that is not a
shard's own decode → outputs work (scan, scheduling, Ray's model load per worker, stitching), per shard.
cpu_ms_per_frame: the shards' CPU time (all threads of their processes) per frame: where other jobs share the
cores, wall-time ratios fall, while equal CPU per frame for 1 and 2 workers shows the work itself divides.
--two-node starts a head and one worker node with `ray start --block` (1 CPU each) on this machine, runs the
batch with the head's address, checks the outputs are identical to the process pool's, and stops both nodes
(only the processes it started).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeseg.batch.engines import LocalEngine, RayEngine
from edgeseg.batch.job import run_batch
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.sink import read_labels


def make_clips(root: Path, frames: int, size: tuple[int, int]) -> tuple[list[str], str]:
    """The 8 clips and the long one under `root` (rendered once: reused when --clips names a folder)."""
    from edgeseg.synth.clip import render_clip

    def clip(name: str, **options) -> str:
        video = root / name / "video.mp4"
        if not video.exists():
            render_clip(root / name, size=size, bframes=2, preset="veryfast", **options)
        return str(video)

    short = [clip(f"clip{k}", frames=frames, seed=100 + k) for k in range(8)]
    return short, clip("long", frames=8 * frames, seed=200, gop=max(1, frames // 2))


def measure(name: str, inputs: list[str], engine, *, threads: int, workers: int, shard_frames: int,
            out: Path) -> dict:
    """One batch, its engine started beforehand (workers spawned, model opened: startup_s, reported apart)."""
    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    engine.start(threads=threads, wait=True)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = run_batch(inputs, out=out, spec=SegmentSpec(), engine=engine, threads=threads,
                        shard_frames=shard_frames, echo=lambda _: None)
    wall = time.perf_counter() - t0
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    shards = sum(x["shards"] for x in lines)
    work, cpu = sum(x["seconds"] for x in lines), sum(x["cpu_seconds"] for x in lines)
    row = {"name": name, "workers": workers, "threads": threads, "startup_s": round(startup, 2),
           "frames": summary.frames, "wall_s": round(wall, 2),
           "fps": round(summary.frames / wall, 2), "shards": shards, "shard_seconds": round(work, 2),
           "overhead_per_shard_s": round((wall * workers - work) / shards, 3), "failed": summary.failed,
           "cpu_ms_per_frame": round(1e3 * cpu / max(summary.frames, 1), 2), "load_avg_1m": os.getloadavg()[0]}
    print(json.dumps(row), flush=True)
    return row


def same_outputs(a: Path, b: Path) -> bool:
    for labels in sorted(a.rglob("labels.mkv")):
        other = b / labels.relative_to(a)
        x, y = list(read_labels(labels)), list(read_labels(other))
        if len(x) != len(y) or any((p != q).any() for p, q in zip(x, y, strict=True)):
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_node_cluster(tmp: Path):
    """Start a head and a worker node (`ray start --block`, 1 CPU each); returns (address, processes)."""
    ray_bin = str(Path(sys.executable).with_name("ray"))
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    head = subprocess.Popen([ray_bin, "start", "--head", f"--port={port}", "--include-dashboard=false",
                             f"--temp-dir={tmp / 'ray'}", *common], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    worker = subprocess.Popen([ray_bin, "start", f"--address={address}", *common], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    return address, [worker, head]


def stop(processes) -> None:
    for proc in processes:  # the process groups this script started, by id
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3, help="every configuration once per round (medians)")
    ap.add_argument("--size", default="480x360")
    ap.add_argument("--ray", action="store_true", help="also Ray on this machine (ray.init(num_cpus=2))")
    ap.add_argument("--two-node", action="store_true", help="also a two-node `ray start` cluster here")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--clips", type=Path, default=None, help="render the clips here once and reuse them")
    ap.add_argument("--hd", type=int, default=0, metavar="FRAMES",
                    help="only the per-frame cost at 1920x1080: a textured panning clip of FRAMES frames "
                         "(x264 veryfast, 3 B-frames, 3 references), 1 worker, 1 thread")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    if args.hd:
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            import clips  # tests/clips.py

            hd = clips.translate_clip(tmp / "hd.mp4", size=(1920, 1080), frames=args.hd, bframes=3, refs=3)
            measure("1920x1080, 1 worker, 1 thread", [str(hd.path)], LocalEngine(workers=1), threads=1,
                    workers=1, shard_frames=10**9, out=tmp / "hd")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    try:
        t0 = time.perf_counter()
        short, long = make_clips(args.clips or tmp / "clips", args.frames, (h, w))
        print(f"clips rendered in {time.perf_counter() - t0:.0f} s", flush=True)
        rows, big = [], 10**9
        configs = [("8 clips, 1 worker(s)", short, 1, 1, big), ("8 clips, 2 worker(s)", short, 2, 1, big),
                   ("8 clips, 1 worker, 2 threads", short, 1, 2, big),
                   ("long clip, 1 worker(s)", [long], 1, 1, args.frames),
                   ("long clip, 2 worker(s)", [long], 2, 1, args.frames)]
        fps: dict[str, list[float]] = {c[0]: [] for c in configs}
        for r in range(args.rounds):  # the order rotates, so a slow phase of a shared machine hits every row
            for name, inputs, workers, threads, shard in configs[r % len(configs):] + configs[:r % len(configs)]:
                row = measure(name, inputs, LocalEngine(workers=workers), threads=threads, workers=workers,
                              shard_frames=shard, out=tmp / f"r{r}")
                rows.append({**row, "round": r})
                fps[name].append(row["fps"])
        med = {k: statistics.median(v) for k, v in fps.items()}
        result = {"rows": rows, "median_fps": med,
                  "ratio_clips": round(med["8 clips, 2 worker(s)"] / med["8 clips, 1 worker(s)"], 3),
                  "ratio_long": round(med["long clip, 2 worker(s)"] / med["long clip, 1 worker(s)"], 3),
                  "round_ratios_clips": [round(b / a, 3) for a, b in zip(fps["8 clips, 1 worker(s)"],
                                                                          fps["8 clips, 2 worker(s)"], strict=True)],
                  "round_ratios_long": [round(b / a, 3) for a, b in zip(fps["long clip, 1 worker(s)"],
                                                                         fps["long clip, 2 worker(s)"], strict=True)]}
        for name, values in med.items():
            print(f"{name:<32} median {values:7.1f} fps  ({', '.join(f'{v:.1f}' for v in fps[name])})", flush=True)
        if args.ray:
            engine = RayEngine(num_cpus=2)
            measure("8 clips, 2 workers (reference outputs)", short, LocalEngine(workers=2), threads=1, workers=2,
                    shard_frames=big, out=tmp / "pool")
            rows.append(measure("8 clips, Ray local (2 CPUs)", short, engine, threads=1, workers=2,
                                shard_frames=big, out=tmp / "ray"))
            result["ray_same_as_pool"] = same_outputs(tmp / "pool", tmp / "ray")
            engine.ray.shutdown()
        if args.two_node:
            address, procs = two_node_cluster(tmp)
            try:
                engine = RayEngine(address=address)
                rows.append(measure("long clip, Ray two nodes (1 CPU each)", [long], engine,
                                    threads=1, workers=2, shard_frames=args.frames, out=tmp / "ray2"))
                measure("long clip, 2 workers (reference outputs)", [long], LocalEngine(workers=2), threads=1,
                        workers=2, shard_frames=args.frames, out=tmp / "pool2")
                result["two_node_same_as_pool"] = same_outputs(tmp / "pool2", tmp / "ray2")
                import ray

                result["two_node_nodes"] = len([n for n in ray.nodes() if n["Alive"]])
                ray.shutdown()
            finally:
                stop(procs)
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}), flush=True)
        if args.json:
            args.json.write_text(json.dumps(result, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
