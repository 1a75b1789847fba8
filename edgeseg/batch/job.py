"""A whole batch: inputs → shards → an engine → outputs stitched per input, a manifest line each, a summary.

Usage::

    summary = run_batch(["archive/"], out=Path("out"), spec=SegmentSpec(), engine=LocalEngine(workers=2))
    print(summary.line())

Per input, in OUT/<name>/: labels.mkv, stats.jsonl, and optionally overlay.mp4 and masks/. Shards write their
parts in OUT/<name>/.parts/ under temporary names; an input's outputs are stitched from its parts, written
under temporary names and renamed, then its manifest line is appended and the parts removed. A rerun skips
finished inputs and the done shards of unfinished ones.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgeseg.batch.inputs import Input, expand_inputs
from edgeseg.batch.manifest import Manifest, file_identity
from edgeseg.batch.shards import Shard, container_frames, plan_shards, scan_file
from edgeseg.batch.worker import ShardTask
from edgeseg.errors import ConfigError, EdgesegError
from edgeseg.pipeline.spec import SegmentSpec

OUTPUTS = ("labels", "stats", "overlay", "masks")
FILES = {"labels": ("labels", ".mkv"), "stats": ("stats", ".jsonl"), "overlay": ("overlay", ".mp4")}


def exact_shards(spec: SegmentSpec) -> bool:
    """Whether a stream started at an IDR segments as the whole stream does there: the fixed schedule keys
    every I-frame (so each IDR is a keyframe in `run` too), or every frame is a keyframe. The adaptive policy
    carries state across IDRs, and without I-frame keys an IDR may fall inside a gap: one shard per file."""
    return spec.mode == "frame" or (spec.keyframes == "fixed" and spec.iframe_keys)


@dataclass(kw_only=True)
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0  # wall time of the whole batch

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        return (f"batch: {self.ok} ok, {self.failed} failed, {self.skipped} skipped; "
                f"{self.frames} frames in {self.seconds:.1f} s, {fps:.1f} fps")


@dataclass(kw_only=True)
class _Job:
    """One input in flight: its shards, the records of those done, its first error."""

    item: Input
    ident: dict
    dir: Path
    fps: float
    shards: list[Shard]
    records: dict = field(default_factory=dict)
    error: str | None = None


def _prepare(job: _Job, plan: dict) -> None:
    """Keep the parts of an earlier run only if it planned the same work on the same file."""
    parts = job.dir / ".parts"
    plan_file = parts / "plan.json"
    if parts.exists() and (not plan_file.exists() or json.loads(plan_file.read_text()) != plan):
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not plan_file.exists():
        tmp = parts / ".tmp-plan.json"
        tmp.write_text(json.dumps(plan))
        tmp.replace(plan_file)
    for shard in job.shards:
        done = parts / f"done-{shard.number:05d}.json"
        if done.exists():
            job.records[shard.number] = json.loads(done.read_text())


def _stitch(job: _Job, outputs: tuple[str, ...]) -> None:
    """The input's parts → its final outputs (temporary names, then renamed)."""
    from edgeseg.sink.labels import concat_videos

    parts, count = job.dir / ".parts", len(job.shards)
    for kind in outputs:
        if kind == "masks":
            final = job.dir / "masks"
            if final.exists():
                shutil.rmtree(final)
            (parts / "masks").replace(final)
            continue
        stem, suffix = FILES[kind]
        pieces = [parts / f"{stem}-{n:05d}{suffix}" for n in range(count)]
        tmp, final = job.dir / f".tmp-{stem}{suffix}", job.dir / f"{stem}{suffix}"
        if kind == "stats":
            with open(tmp, "wb") as out:
                for piece in pieces:
                    out.write(piece.read_bytes())
        elif count == 1:
            shutil.copyfile(pieces[0], tmp)
        else:
            concat_videos(pieces, tmp, frames=[s.frames for s in job.shards], fps=job.fps)
        tmp.replace(final)


def run_batch(inputs: list[str], *, out: Path, spec: SegmentSpec, engine, outputs=("labels", "stats"),
              model=None, backend: str = "auto", threads: int | None = 1, shard_frames: int = 2000,
              alpha: float = 0.5, progress: bool = False, echo: Callable[[str], None] = print) -> BatchSummary:
    """Segment every input into OUT/<name>/ on `engine` (LocalEngine or RayEngine); see the module docstring."""
    unknown = sorted(set(outputs) - set(OUTPUTS))
    if unknown or not outputs:
        raise ConfigError(f"--outputs {','.join(outputs)}: choose from {', '.join(OUTPUTS)}")
    start = time.perf_counter()
    out = Path(out)
    items = expand_inputs(inputs, skip=out)  # outputs written inside an input folder are not inputs next time
    manifest = Manifest(out / "manifest.jsonl")
    if model is not None:
        from edgeseg.backend.bundle import load_bundle

        load_bundle(model)  # a bad --model is one line here, not a worker failing on every shard
    finished = {item.path for item in items if manifest.finished(item.path)}  # one stat per input
    work = len(finished) < len(items)
    if work:  # workers open the model while the first input is scanned
        engine.start(model=model, backend=backend, threads=threads)
    summary, jobs = BatchSummary(), {}
    bar, counts = None, {}

    def counted(path: str) -> int:
        if path not in counts:
            counts[path] = container_frames(path)
        return counts[path]

    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(counted(i.path) for i in items if i.path not in finished), unit="frame",
                   dynamic_ncols=True)

    def say(text: str) -> None:
        (bar.write if bar is not None else echo)(text)

    def fail(item: Input, ident: dict, cause: str) -> None:
        manifest.add({"input": item.path, "name": item.name, **ident, "status": "error", "error": cause})
        summary.failed += 1
        say(f"failed {item.name}: {cause}")
        if bar is not None and item.path not in jobs:  # never scanned: its frames leave the total
            bar.total -= counted(item.path)
            bar.refresh()

    def finish(job: _Job) -> None:
        try:
            _stitch(job, tuple(outputs))
        except Exception as exc:  # storage full, parts damaged: this input fails, the batch goes on
            fail(job.item, job.ident, " ".join(f"{job.item.path}: cannot write the outputs ({exc})".split()))
            return
        recs = job.records.values()
        frames, keys, secs, cpu = (sum(r[k] for r in recs) for k in ("frames", "keyframes", "seconds", "cpu_seconds"))
        manifest.add({"input": job.item.path, "name": job.item.name, **job.ident, "frames": frames,
                      "seconds": round(secs, 3), "cpu_seconds": round(cpu, 3),
                      "fps": round(frames / secs, 2) if secs else 0.0,
                      "keyframe_fraction": round(keys / frames, 4) if frames else 0.0,
                      "shards": len(job.shards), "status": "ok"})
        shutil.rmtree(job.dir / ".parts", ignore_errors=True)
        summary.ok += 1
        summary.frames += frames
        say(f"ok {job.item.name}: {frames} frames, {secs:.1f} s, {frames / secs if secs else 0:.1f} fps")

    def shard_tasks():
        """Each input scanned and planned as the engine asks for work, so the first shards run while later
        inputs are still being scanned (a scan reads the whole file)."""
        for item in items:
            if item.path in finished:
                summary.skipped += 1
                shutil.rmtree(out / item.name / ".parts", ignore_errors=True)  # killed after its manifest line
                continue
            ident = file_identity(item.path)
            try:
                scan = scan_file(item.path)
            except EdgesegError as exc:
                fail(item, ident, str(exc))
                continue
            shards = plan_shards(scan, shard_frames=shard_frames, exact=exact_shards(spec))
            job = _Job(item=item, ident=ident, dir=out / item.name, fps=scan.fps or 25.0, shards=shards)
            plan = {"input": item.path, **ident, "spec": dataclasses.asdict(spec), "outputs": list(outputs),
                    "model": str(model) if model is not None else None, "shards": [[s.start, s.end] for s in shards]}
            _prepare(job, plan)
            jobs[item.path] = job
            if bar is not None:  # the container's count → the frames found; shards done before a restart
                bar.total += scan.frames - counted(item.path)
                bar.update(sum(r["frames"] for r in job.records.values()))
            if len(job.records) == len(job.shards):  # every shard was done before a restart
                finish(job)
                continue
            yield from (ShardTask(path=item.path, parts=str(job.dir / ".parts"), shard=s, spec=spec,
                                  outputs=tuple(outputs), model=str(model) if model is not None else None,
                                  backend=backend, threads=threads, alpha=alpha)
                        for s in shards if s.number not in job.records)

    def on_done(task: ShardTask, record: dict | None, error: str | None) -> None:
        job = jobs[task.path]
        if job.error is not None:
            return
        if error is not None:
            job.error = error
            fail(job.item, job.ident, error)
            return
        job.records[task.shard.number] = record
        if bar is not None:
            bar.update(record["frames"])
        if len(job.records) == len(job.shards):
            finish(job)

    try:
        if work:
            engine.run(shard_tasks(), on_done)
        else:
            for _ in shard_tasks():  # every input was finished before: counted as skipped
                pass
    finally:
        engine.close()
        if bar is not None:
            bar.close()
    summary.seconds = time.perf_counter() - start
    return summary
