"""The first `edgeseg run` with an empty kernel cache vs the second one, as a new user meets them.

    python benchmarks/bench_first_run.py [--clip FILE] [--size 540x960] [--frames 200] [--rounds 3] [--json F]

Each round makes a fresh cache directory (EDGESEG_CACHE, NUMBA_CACHE_DIR unset), runs `edgeseg run CLIP`
(interp, K=10, no outputs) as a new process, waits for the background kernel compile it started to finish,
then runs the same command again. Reported: the fps each run prints (decode to outputs, model load
excluded), the wall time of each process, and second/first ratios (target: first ≥ 0.7× second).
Without --clip it renders a synthetic street clip (seed 7) at --size.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(clip: str, cache: Path, frames: int) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "EDGESEG_JIT", "EDGESEG_NO_JIT")}
    env["EDGESEG_CACHE"] = str(cache)
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "edgeseg", "run", clip, "--no-progress", "--max-frames",
                          str(frames)], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    fps = float(re.search(r"([\d.]+) fps", res.stderr).group(1))
    return fps, wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default=None)
    ap.add_argument("--size", default="540x960")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600, help="seconds to wait for the background compile")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = a.clip
        if clip is None:
            from edgeseg.synth.clip import render_clip

            h, w = (int(v) for v in a.size.split("x"))
            clip = str(render_clip(Path(tmp) / "clip", frames=a.frames, size=(h, w), seed=7, preset="veryfast").video)
        for r in range(a.rounds):
            cache = Path(tmp) / f"cache{r}"
            first = run_once(clip, cache, a.frames)
            deadline = time.monotonic() + a.timeout
            while not list((cache / "numba").glob("ready-*")) and time.monotonic() < deadline:
                time.sleep(1)
            compiled_in = (cache / "numba" / "warm-up.log").read_text().strip().splitlines()[-1:] or ["?"]
            second = run_once(clip, cache, a.frames)
            rows.append({"first_fps": first[0], "first_wall_s": first[1], "second_fps": second[0],
                         "second_wall_s": second[1], "ratio": first[0] / second[0], "warm_up": compiled_in[0]})
            print(f"round {r + 1}: first {first[0]:.1f} fps ({first[1]:.1f} s process), second {second[0]:.1f} fps "
                  f"({second[1]:.1f} s process), ratio {rows[-1]['ratio']:.2f}; {compiled_in[0]}", file=sys.stderr)
    ratio = statistics.median(r["ratio"] for r in rows)
    print(f"clip {clip}, {a.frames} frames, {a.rounds} rounds: median first/second fps ratio {ratio:.2f} "
          f"(first {statistics.median(r['first_fps'] for r in rows):.1f} fps, "
          f"second {statistics.median(r['second_fps'] for r in rows):.1f} fps)")
    if a.json:
        Path(a.json).write_text(json.dumps({"clip": clip, "rounds": rows, "median_ratio": ratio}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
