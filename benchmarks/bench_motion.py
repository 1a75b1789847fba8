"""Motion cost and accuracy: decode with vectors + dense field vs plain decode, field build per 1080p frame (with
and without identifying each vector's frame from the pixels), the B-frame/multi-reference rules against true
motion, and the fallback estimator choice.

    nice python benchmarks/bench_motion.py [--clip FILE] [--frames 120] [--gop N] [--repeat 3] [--json OUT]

Without --clip it encodes a 1920×1080 clip (x264 preset veryfast, 3 B-frames, 3 references: a camera-like
stream) of textured content panning by (1.5, -0.75) px/frame; --gop sets its keyframe interval (default: x264's
250, so 120 frames are one GOP and nothing decodes in parallel). Timings are the best of --repeat runs.
"source_mvs*" use the default GOP-parallel decoding of files (edgeseg.source.gop); "*_one_decoder" one decoder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import clips  # noqa: E402  (tests/clips.py: clips with known motion)

from edgeseg.motion.dense import MotionFieldBuilder, dense_field  # noqa: E402
from edgeseg.motion.estimate import X264Estimator, block_match  # noqa: E402
from edgeseg.source import open_source  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def pyav_decode(path: str, threads: str, frames: int) -> None:
    import av

    with av.open(path) as c:
        s = c.streams.video[0]
        if threads == "NONE":
            s.thread_type, s.thread_count = "NONE", 1
        else:
            s.thread_type = threads
        for i, _ in enumerate(c.decode(s), 1):
            if i >= frames:
                break


def source_decode(path: str, frames: int, *, export_mvs: bool, field: bool, prefetch: int = 4,
                  rgb: bool = False, workers: int | None = None) -> None:
    """open_source → (MotionFieldBuilder); rgb: also convert every frame's pixels (they are lazy);
    workers: GOP decoder threads (None: the default; 1: one decoder)."""
    with open_source(path, export_mvs=export_mvs) as src:
        src.prefetch = prefetch
        if workers is not None:
            src.workers = workers
        it = MotionFieldBuilder(stride=16, fallback=None).fields(src) if field else ((f, None) for f in src)
        for i, (frame, _) in enumerate(it, 1):
            if rgb:
                frame.image  # noqa: B018
            if i >= frames:
                break


def decode_section(path: str, frames: int, repeat: int) -> dict:
    """ms per frame, best of `repeat` rounds; the variants are interleaved so load changes hit all alike."""
    variants = {
        "pyav_plain_auto_threads": lambda: pyav_decode(path, "AUTO", frames),
        "pyav_plain_1_thread": lambda: pyav_decode(path, "NONE", frames),
        "source_plain": lambda: source_decode(path, frames, export_mvs=False, field=False),
        "source_mvs": lambda: source_decode(path, frames, export_mvs=True, field=False),
        "source_mvs_field16": lambda: source_decode(path, frames, export_mvs=True, field=True),
        "source_mvs_one_decoder": lambda: source_decode(path, frames, export_mvs=True, field=False, workers=1),
        "source_mvs_field16_one_decoder": lambda: source_decode(path, frames, export_mvs=True, field=True,
                                                                workers=1),
        "source_mvs_field16_no_prefetch": lambda: source_decode(path, frames, export_mvs=True, field=True,
                                                                prefetch=0),
        "source_mvs_field16_rgb": lambda: source_decode(path, frames, export_mvs=True, field=True, rgb=True),
        "source_plain_rgb": lambda: source_decode(path, frames, export_mvs=False, field=False, rgb=True),
    }
    t = {k: float("inf") for k in variants}
    for _ in range(repeat):
        for k, fn in variants.items():
            t[k] = min(t[k], best(fn, 1))
    return {k: 1e3 * v / frames for k, v in t.items()}


def field_section(path: str, frames: int) -> dict:
    with open_source(path) as src:
        fr = [f for _, f in zip(range(frames), src, strict=False) if len(f.mvs)]
    h, w = fr[0].height, fr[0].width
    out = {"vectors_per_frame": float(np.mean([len(f.mvs) for f in fr]))}
    for stride in (8, 16, 32):
        t = best(lambda s=stride: [dense_field(f.mvs, height=h, width=w, stride=s) for f in fr], 3)
        out[f"dense_field_ms_stride{stride}"] = 1e3 * t / len(fr)
    with open_source(path) as src:
        frames_all = [f for _, f in zip(range(frames), src, strict=False)]
    for name, kw in (("", {}), ("_no_identify", {"identify": False})):
        t = best(lambda kw=kw: list(MotionFieldBuilder(stride=16, max_refs=4, **kw).fields(frames_all)), 3)
        out[f"builder_ms_per_frame_stride16_multiref{name}"] = 1e3 * t / len(frames_all)
    return out


def rule_section(tmp: Path) -> list[dict]:
    """End-point error of the reference rules against the true motion: nearest anchor only, the prior-agreement
    rule (no pixels), and the default (each vector's frame identified from the pixels); B-frames alone too."""
    rows = []
    configs = [("pan", 0, 1), ("pan", 0, 4), ("pan", 3, 1), ("pan", 3, 4), ("slow pan", 0, 3), ("slow pan", 3, 3),
               ("uneven pan", 0, 3), ("uneven pan", 3, 3), ("object", 0, 4), ("object", 3, 4)]
    for kind, bframes, refs in configs:
        path = tmp / f"{kind.replace(' ', '-')}-{bframes}-{refs}.mp4"
        if kind == "object":
            clip = clips.object_clip(path, size=(642, 362), frames=48, bframes=bframes, refs=refs, preset="medium",
                                     crf=23)
        elif kind == "uneven pan":
            clip = clips.shaky_clip(path, size=(642, 362), frames=48, bframes=bframes, refs=refs, crf=23)
        else:
            clip = clips.translate_clip(path, size=(642, 362), frames=48, bframes=bframes, refs=refs, preset="medium",
                                        crf=23, shift_xy=(1.5, -0.75) if kind == "pan" else (0.6, -0.35))
        row = {"clip": kind, "bframes": bframes, "refs": refs}
        for name, kw in (("nearest_anchor", {"max_refs": 1, "identify": False}), ("prior", {"identify": False}),
                         ("identified", {})):
            with open_source(path) as src:
                pairs = list(MotionFieldBuilder(stride=16, **kw).fields(src))
            err, valid = clips.field_error(clip, pairs)
            row[f"{name}_epe_px"], row[f"{name}_valid"] = round(err, 3), round(valid, 3)
            if bframes:
                row[f"{name}_b_frames_epe_px"] = round(clips.field_error(
                    clip, [(f, fld) for f, fld in pairs if f.pict_type == "B"])[0], 3)
        rows.append(row)
    return rows


def fallback_section(tmp: Path) -> list[dict]:
    rows = []
    for size in ((642, 362), (1920, 1080)):
        clip = clips.translate_clip(tmp / f"fb{size[0]}.mp4", size=size, frames=12, shift_xy=(1.5, -0.75), crf=12)
        with open_source(clip.path, export_mvs=False) as src:
            frames = list(src)
        est = X264Estimator()
        t0 = time.perf_counter()
        pairs = list(MotionFieldBuilder(stride=16).fields(frames))
        t_x264 = (time.perf_counter() - t0) / len(frames)
        err, valid = clips.field_error(clip, pairs)
        rows.append({"method": "x264 re-encode", "size": f"{size[0]}x{size[1]}", "ms_per_frame": round(1e3 * t_x264, 1),
                     "epe_px": round(err, 3), "valid": round(valid, 3)})
        del est
        if size[0] > 1000:
            continue
        gray = [f.image.mean(axis=2) for f in frames]
        t0 = time.perf_counter()
        bm = [(frames[0], dense_field(None, height=size[1], width=size[0]))]
        for i in range(1, len(frames)):
            bm.append((frames[i], dense_field(block_match(gray[i - 1], gray[i]), height=size[1], width=size[0])))
        t_bm = (time.perf_counter() - t0) / len(frames)
        err, valid = clips.field_error(clip, bm)
        rows.append({"method": "block matching ±8 (numpy)", "size": f"{size[0]}x{size[1]}",
                     "ms_per_frame": round(1e3 * t_bm, 1), "epe_px": round(err, 3), "valid": round(valid, 3)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", help="video file (default: a synthetic 1080p camera-like clip)")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--gop", type=int, help="keyframe interval of the synthetic clip (default: x264's)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        path = args.clip
        if path is None:
            path = str(tmp / "pan1080.mp4")
            clips.translate_clip(path, size=(1920, 1080), frames=args.frames, shift_xy=(1.5, -0.75), bframes=3,
                                 refs=3, preset="veryfast", crf=23, gop=args.gop)
        with open_source(path) as src:
            info = src.info
            n = sum(1 for _, _ in zip(range(args.frames), src, strict=False))
            gops = src.gops
        res = {"clip": args.clip or f"synthetic 1920x1080 pan, x264 veryfast bf=3 ref=3 gop={args.gop or 250}",
               "size": f"{info.width}x{info.height}", "frames": n, "gops_decoded_in_parallel": gops,
               "cpus": os.cpu_count(), "load_average_before": os.getloadavg(),
               "decode_ms_per_frame": decode_section(path, args.frames, args.repeat),
               "field": field_section(path, min(args.frames, 60))}
        d = res["decode_ms_per_frame"]
        res["ratio_mvs_field_vs_source_plain"] = d["source_mvs_field16"] / d["source_plain"]
        res["ratio_mvs_field_vs_pyav_plain_auto"] = d["source_mvs_field16"] / d["pyav_plain_auto_threads"]
        res["ratio_mvs_field_vs_pyav_plain_1_thread"] = d["source_mvs_field16"] / d["pyav_plain_1_thread"]
        res["ratio_mvs_field_one_decoder_vs_pyav_plain_auto"] = (d["source_mvs_field16_one_decoder"]
                                                                 / d["pyav_plain_auto_threads"])
        res["ratio_mvs_field_rgb_vs_plain_rgb"] = d["source_mvs_field16_rgb"] / d["source_plain_rgb"]
        if not args.skip_accuracy:
            res["rule"] = rule_section(tmp)
            res["fallback"] = fallback_section(tmp)
    res["load_average_after"] = os.getloadavg()
    print(json.dumps(res, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
