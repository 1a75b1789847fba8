"""One shard segmented: frames [start, end) of a file, from its IDR, into that shard's part files.

Usage: ``result = run_shard(task)`` (in a pool process or a Ray task; the networks stay open per process)

The shard's decoder starts at its IDR (found by seeking, then skipping packets to it) and its segmenter starts
fresh there, so the IDR is its first keyframe — as in `edgeseg run`, whose fixed keyframe schedule keys every
I-frame. In interp mode `run` closes the gap before an IDR with that IDR as keyframe b; so that the shard's
last frames come out the same, the shard also decodes the next shard's IDR, segments it and drops its result
(one extra keyframe per shard). Parts are written under temporary names and renamed when complete; a shard is
done once its `done-<n>.json` exists.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from edgeseg.batch.shards import Shard
from edgeseg.pipeline.spec import SegmentSpec

_NETS: dict = {}  # (model, backend, threads) → (nets, bundle): opened once per worker process


@dataclass(frozen=True, kw_only=True)
class ShardTask:
    """Everything a worker needs, picklable: the input, its parts directory, the shard and the settings."""

    path: str
    parts: str
    shard: Shard
    spec: SegmentSpec
    outputs: tuple[str, ...] = ("labels", "stats")
    model: str | None = None
    backend: str = "auto"
    threads: int | None = 1
    alpha: float = 0.5
    open_end: bool = False  # the last shard of a truncated file: it ends where the data does (fewer frames)

    def part(self, kind: str, suffix: str) -> Path:
        return Path(self.parts) / f"{kind}-{self.shard.number:05d}{suffix}"


def networks(model, backend: str, threads):
    """The process's networks for a model (opened on first use)."""
    from edgeseg.backend.networks import open_networks

    key = (str(model) if model is not None else None, backend, threads)
    if key not in _NETS:
        _NETS[key] = open_networks(model, backend=backend, threads=threads)
    return _NETS[key]


def window(path: str, shard: Shard, *, lookahead: bool):
    """(container, packets): the shard's packets in decode order, from its IDR up to the next shard's IDR
    (included when `lookahead`), then an empty packet that drains the decoder."""
    import av

    container = av.open(path)
    stream = container.streams.video[0]
    cut, nxt = shard.cut, shard.next_cut

    def packets():
        last = None
        found = cut is None
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if not found:
                if packet.pts != cut.pts:
                    continue
                found = True
            if nxt is not None and packet.pts == nxt.pts:
                if lookahead:
                    yield (last := packet)
                break
            yield (last := packet)
        drain = av.Packet()
        if last is not None:
            drain.time_base = last.time_base
        yield drain

    if cut is not None:
        container.seek(cut.pts, stream=stream, backward=True)
        first = next(container.demux(stream), None)
        if first is None or first.dts is None or cut.dts is None or first.dts > cut.dts:
            container.close()  # the seek went past the IDR: read from the start instead
            container = av.open(path)
            stream = container.streams.video[0]
        else:
            container.seek(cut.pts, stream=stream, backward=True)
    return container, packets()


class _Window:
    """Passes the results of frames [start, end) to the sinks and counts them; drops the look-ahead frame."""

    def __init__(self, sinks: list, end: int):
        self.sinks, self.end, self.frames, self.keyframes = sinks, end, 0, 0

    def write(self, result) -> None:
        if result.frame.index >= self.end:
            return
        self.frames += 1
        self.keyframes += bool(result.keyframe)
        for sink in self.sinks:
            sink.write(result)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _sinks(task: ShardTask, bundle, fps: float) -> tuple[list, list]:
    """The shard's sinks and their (temporary, final) part paths."""
    from edgeseg.pipeline.session import build_sinks
    from edgeseg.sink.outputs import OutputSpec

    renames = []

    def temp(kind: str, suffix: str) -> Path:
        final = task.part(kind, suffix)
        tmp = final.with_name(f".tmp-{os.getpid()}-{final.name}")  # never shared with a worker left running
        renames.append((tmp, final))
        return tmp

    outputs = OutputSpec(
        label_video=temp("labels", ".avi") if "labels" in task.outputs else None,
        stats=temp("stats", ".jsonl") if "stats" in task.outputs else None,
        masks=Path(task.parts) / "masks" if "masks" in task.outputs else None,
        overlay=temp("overlay", ".mp4") if "overlay" in task.outputs else None, alpha=task.alpha)
    sinks = build_sinks(outputs, bundle=bundle, fps=fps)  # run's own sinks, each on its writer thread
    return sinks, renames


def run_shard(task: ShardTask) -> dict:
    """Segment one shard into its part files; returns its done record (frames, keyframes, seconds, corrupt).
    A shard already done (its done file exists) is not redone. An `open_end` shard may give fewer frames than
    planned (a truncated file's last packet may not decode): its record counts those written."""
    from edgeseg.pipeline.build import build_segmenter, motion_pairs
    from edgeseg.pipeline.run import run_stream
    from edgeseg.source.decode import Source

    done = task.part("done", ".json")
    if done.exists():
        return json.loads(done.read_text())
    shard = task.shard
    nets, bundle = networks(task.model, task.backend, task.threads)
    start, cpu = time.perf_counter(), time.process_time()  # the shard's own work (networks open once per process)
    segmenter = build_segmenter(task.spec, nets=nets, bundle=bundle)
    lookahead = task.spec.plan.hold and shard.next_cut is not None
    container, packets = window(task.path, shard, lookahead=lookahead)
    # one decoder thread per shard; a truncated file's end is decoded as `run` decodes it (its default decoder
    # threads), since where a decoder counts the frame it loses to a packet cut short depends on the decoder
    # (not where FFmpeg's probe decoded no frame at all: no pixel format for the per-GOP decoders)
    as_run = task.open_end and container.streams.video[0].codec_context.pix_fmt is not None
    source = Source(container, name=task.path, is_live=False, export_mvs=task.spec.needs_vectors,
                    workers=None if as_run else 1, packets=packets, first_index=shard.start)
    with source:
        sinks, renames = _sinks(task, bundle, source.info.fps or 25.0)
        out = _Window(sinks, shard.end)
        summary = run_stream(motion_pairs(source, task.spec), segmenter, sinks=[out])
    if summary.source_error:
        from edgeseg.errors import SourceError

        raise SourceError(summary.source_error)
    if out.frames != shard.frames and not (task.open_end and out.frames < shard.frames):
        from edgeseg.errors import SourceError

        raise SourceError(f"{task.path}: frames {shard.start}–{shard.end} gave {out.frames} frames, "
                          f"not {shard.frames} (damaged video)")
    for tmp, final in renames:
        if tmp.exists():
            tmp.replace(final)
    record = {"shard": shard.number, "start": shard.start, "end": shard.end, "frames": out.frames,
              "keyframes": out.keyframes, "seconds": round(time.perf_counter() - start, 4),
              "cpu_seconds": round(time.process_time() - cpu, 4),  # all of the process's threads
              "corrupt": summary.corrupt, "pid": os.getpid(), "gpu": os.environ.get("CUDA_VISIBLE_DEVICES")}
    tmp = done.with_name(f".tmp-{os.getpid()}-{done.name}")
    tmp.write_text(json.dumps(record))
    tmp.replace(done)
    return record

