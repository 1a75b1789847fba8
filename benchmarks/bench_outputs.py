"""What writing the outputs costs `edgeseg run`: no outputs vs --masks vs --overlay --stats, on one clip.

    python benchmarks/bench_outputs.py [--clip FILE] [--size 540x960] [--frames 200] [-k 10] [--rounds 5]
                                       [--overlay-scale 1.0] [--json out.json]

Each round runs every configuration once through `segment_source` (what `edgeseg run` calls), in an order
that rotates between rounds, so a slow phase of a shared machine hits every configuration alike. Reported:
each configuration's median fps over the rounds and the ratio of medians to "none" (targets: overlay+stats
≥ 0.6, masks ≥ 0.8). fps is the run's own summary: decode to the last output byte written (writer threads
drained). Also the process CPU time per frame (model load included, the same in every configuration): on a
machine whose cores are busy with other work the fps ratios follow the CPU costs; on an idle one the writer
threads use the core that inference leaves free. Without --clip it renders a synthetic street clip (seed 7) at --size; a first untimed run loads
the numba kernels.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgeseg.pipeline import SegmentSpec, segment_source
from edgeseg.sink.outputs import OutputSpec
from edgeseg.sink.overlay import OVERLAY_CRF, OVERLAY_PRESET

CONFIGS = ("none", "masks", "overlay+stats", "overlay")


def outputs(config: str, out: Path, scale: float) -> OutputSpec:
    out.mkdir(parents=True, exist_ok=True)
    if config == "masks":
        return OutputSpec(masks=out / "masks")
    if config == "overlay+stats":
        return OutputSpec(overlay=out / "overlay.mp4", stats=out / "stats.jsonl", overlay_scale=scale)
    if config == "overlay":
        return OutputSpec(overlay=out / "overlay.mp4", overlay_scale=scale)
    return OutputSpec()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", default=None, help="video file (default: a rendered synthetic clip)")
    ap.add_argument("--size", default="540x960", help="HxW of the rendered clip")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--mode", default="interp")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--overlay-scale", type=float, default=1.0)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    configs = a.configs.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        clip = a.clip
        if clip is None:
            from edgeseg.synth.clip import render_clip

            h, w = (int(v) for v in a.size.split("x"))
            print(f"rendering a {w}x{h} clip of {a.frames} frames …", file=sys.stderr)
            clip = str(render_clip(Path(tmp) / "clip", frames=a.frames, size=(h, w), seed=7, preset="veryfast").video)
        common = {"spec": SegmentSpec(mode=a.mode, keyframe_interval=a.k), "max_frames": a.frames}
        segment_source(clip, **common, outputs=outputs("overlay+stats", Path(tmp) / "warm", a.overlay_scale))
        fps: dict[str, list[float]] = {c: [] for c in configs}
        cpu: dict[str, list[float]] = {c: [] for c in configs}
        for r in range(a.rounds):
            order = configs[r % len(configs):] + configs[:r % len(configs)]
            for config in order:
                out = Path(tmp) / f"r{r}-{config}"
                start = time.process_time()
                summary = segment_source(clip, **common, outputs=outputs(config, out, a.overlay_scale))
                cpu[config].append(1e3 * (time.process_time() - start) / max(summary.frames, 1))
                fps[config].append(summary.fps)
            print(f"round {r + 1}: " + ", ".join(f"{c} {fps[c][-1]:.1f}" for c in configs), file=sys.stderr)
        size = Path(tmp, f"r0-{'overlay+stats' if 'overlay+stats' in configs else 'overlay'}", "overlay.mp4")
        overlay_bytes = size.stat().st_size if size.exists() else None
    med = {c: statistics.median(v) for c, v in fps.items()}
    cpu_med = {c: statistics.median(v) for c, v in cpu.items()}
    base = med.get("none")
    print(f"clip {clip}, mode {a.mode}, K={a.k}, {a.frames} frames, {a.rounds} rounds; overlay libx264 crf "
          f"{OVERLAY_CRF} preset {OVERLAY_PRESET}, scale {a.overlay_scale}, {overlay_bytes} bytes")
    print(f"{'outputs':<15} {'median fps':>10} {'min':>7} {'max':>7} {'vs none':>8} {'CPU ms/frame':>13}")
    for c in configs:
        ratio = f"{med[c] / base:.2f}" if base else "-"
        print(f"{c:<15} {med[c]:>10.1f} {min(fps[c]):>7.1f} {max(fps[c]):>7.1f} {ratio:>8} {cpu_med[c]:>13.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"clip": clip, "fps": fps, "median": med, "cpu_ms_per_frame": cpu,
                                            "overlay_bytes": overlay_bytes,
                                            "preset": OVERLAY_PRESET, "crf": OVERLAY_CRF,
                                            "overlay_scale": a.overlay_scale}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
