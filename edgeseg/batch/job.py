"""A whole batch: inputs → shards → an engine → outputs stitched per input, a manifest line each, a summary.

Usage::

    summary = run_batch(["archive/"], out=Path("out"), spec=SegmentSpec(), engine=LocalEngine(workers=2))
    print(summary.line())

Per input, in OUT/<name>/: labels.avi, stats.jsonl, and optionally overlay.mp4 and masks/. Shards write their
parts in OUT/<name>/.parts/ under temporary names; an input's outputs are stitched from its parts, written
under temporary names and renamed, then its manifest line is appended and the parts removed. A rerun skips
finished inputs and the done shards of unfinished ones. When the batch ends (also by an error or Ctrl-C) the
manifest is rewritten to one line per input, its latest. A truncated input is segmented up to where its data
ends and counts as ok (its manifest line says `truncated` and where it ended).
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
from edgeseg.batch.shards import Shard, container_frames, plan_shards, scan_file, truncation_note
from edgeseg.batch.worker import ShardTask
from edgeseg.errors import ConfigError, EdgesegError
from edgeseg.pipeline.spec import SegmentSpec
from edgeseg.schedule import POLICIES

OUTPUTS = ("labels", "stats", "overlay", "masks")
FILES = {"labels": ("labels", ".avi"), "stats": ("stats", ".jsonl"), "overlay": ("overlay", ".mp4")}


def exact_shards(spec: SegmentSpec) -> bool:
    """Whether a stream started at an IDR segments as the whole stream does there: a policy that restarts at
    I-frames (fixed) keys every one of them (so each IDR is a keyframe in `run` too), or every frame is a
    keyframe. The adaptive policy carries state across IDRs, and without I-frame keys an IDR may fall inside a
    gap: one shard per file."""
    restarts = POLICIES.meta(spec.keyframes)["restarts_at_iframes"]
    return spec.plan.every_frame_keyframe or (spec.iframe_keys and restarts)


@dataclass(kw_only=True)
class BatchSummary:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    truncated: int = 0  # of the ok ones: segmented up to where their data ends
    frames: int = 0
    seconds: float = 0.0  # wall time of the whole batch

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        cut = f", {self.truncated} truncated (kept up to where the data ends)" if self.truncated else ""
        return (f"batch: {self.ok} ok, {self.failed} failed, {self.skipped} skipped{cut}; "
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
    note: str | None = None  # a truncated file: where its data ends


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

    parts = job.dir / ".parts"
    kept = [s.number for s in job.shards if job.records[s.number]["frames"]]  # a truncated file's last may be empty
    for kind in outputs:
        if kind == "masks":
            final = job.dir / "masks"
            if final.exists():
                shutil.rmtree(final)
            (parts / "masks").replace(final)
            continue
        stem, suffix = FILES[kind]
        pieces = [parts / f"{stem}-{n:05d}{suffix}" for n in kept]
        tmp, final = job.dir / f".tmp-{stem}{suffix}", job.dir / f"{stem}{suffix}"
        if kind == "stats":
            with open(tmp, "wb") as out:
                for piece in pieces:
                    out.write(piece.read_bytes())
        elif len(pieces) == 1:
            shutil.copyfile(pieces[0], tmp)
        else:
            concat_videos(pieces, tmp, frames=[job.records[n]["frames"] for n in kept], fps=job.fps)
        tmp.replace(final)


class _Batch:
    """One batch's state: its inputs, manifest, progress bar and summary; the engine calls back into it."""

    def __init__(self, items: list[Input], *, out: Path, spec: SegmentSpec, settings: dict, shard_frames: int,
                 echo: Callable[[str], None]):
        self.items, self.out, self.spec, self.settings = items, out, spec, settings  # ShardTask's settings
        self.shard_frames, self.echo = shard_frames, echo
        self.manifest = Manifest(out / "manifest.jsonl")
        self.finished = {item.path for item in items if self.manifest.finished(item.path)}  # one stat per input
        self.summary, self.jobs, self.counts, self.bar = BatchSummary(), {}, {}, None

    def open_bar(self) -> None:
        """One progress bar over all frames of the inputs to do (the containers' counts until scanned)."""
        from tqdm import tqdm

        self.bar = tqdm(total=sum(self.counted(i.path) for i in self.items if i.path not in self.finished),
                        unit="frame", dynamic_ncols=True)

    def counted(self, path: str) -> int:
        if path not in self.counts:
            self.counts[path] = container_frames(path)
        return self.counts[path]

    def say(self, text: str) -> None:
        (self.bar.write if self.bar is not None else self.echo)(text)

    def fail(self, item: Input, ident: dict, cause: str) -> None:
        self.manifest.add({"input": item.path, "name": item.name, **ident, "status": "error", "error": cause})
        self.summary.failed += 1
        self.say(f"failed {item.name}: {cause}")
        if self.bar is not None and item.path not in self.jobs:  # never scanned: its frames leave the total
            self.bar.total -= self.counted(item.path)
            self.bar.refresh()

    def finish(self, job: _Job) -> None:
        """All shards done: stitch the outputs, then the manifest line, then remove the parts."""
        recs = job.records.values()
        frames, keys, secs, cpu = (sum(r[k] for r in recs) for k in ("frames", "keyframes", "seconds", "cpu_seconds"))
        planned = sum(s.frames for s in job.shards)
        if self.bar is not None and frames < planned:  # a truncated file's last packet did not decode
            self.bar.total -= planned - frames
            self.bar.refresh()
        if not frames:  # a truncated file whose only packets cannot decode: nothing to keep
            self.fail(job.item, job.ident, f"{job.item.path}: truncated or damaged video (no decodable frames)")
            shutil.rmtree(job.dir / ".parts", ignore_errors=True)
            for folder in (job.dir, *job.dir.parents):  # and the folders made for it, if empty
                if folder == self.out or not folder.is_relative_to(self.out):
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break
            return
        try:
            _stitch(job, self.settings["outputs"])
        except Exception as exc:  # storage full, parts damaged: this input fails, the batch goes on
            self.fail(job.item, job.ident, " ".join(f"{job.item.path}: cannot write the outputs ({exc})".split()))
            return
        cut = {"truncated": True, "note": job.note} if job.note else {}
        self.manifest.add({"input": job.item.path, "name": job.item.name, **job.ident, "frames": frames,
                           "seconds": round(secs, 3), "cpu_seconds": round(cpu, 3),
                           "fps": round(frames / secs, 2) if secs else 0.0,
                           "keyframe_fraction": round(keys / frames, 4) if frames else 0.0,
                           "shards": len(job.shards), "status": "ok", **cut})
        shutil.rmtree(job.dir / ".parts", ignore_errors=True)
        self.summary.ok += 1
        self.summary.truncated += bool(job.note)
        self.summary.frames += frames
        note = f"; {job.note}, kept up to there" if job.note else ""
        self.say(f"ok {job.item.name}: {frames} frames, {secs:.1f} s, {frames / secs if secs else 0:.1f} fps{note}")

    def plan(self, item: Input) -> _Job | None:
        """Scan an input and plan its shards (None: it failed); a rerun keeps its done shards."""
        ident = file_identity(item.path)
        try:
            scan = scan_file(item.path)
        except EdgesegError as exc:
            self.fail(item, ident, str(exc))
            return None
        shards = plan_shards(scan, shard_frames=self.shard_frames, exact=exact_shards(self.spec))
        job = _Job(item=item, ident=ident, dir=self.out / item.name, fps=scan.fps or 25.0, shards=shards,
                   note=truncation_note(item.path, scan) if scan.truncated else None)
        plan = {"input": item.path, **ident, "spec": dataclasses.asdict(self.spec),
                "outputs": list(self.settings["outputs"]), "model": self.settings["model"],
                "shards": [[s.start, s.end] for s in shards]}
        _prepare(job, plan)
        self.jobs[item.path] = job
        if self.bar is not None:  # the container's count → the frames found; shards done before a restart
            self.bar.total += scan.frames - self.counted(item.path)
            self.bar.update(sum(r["frames"] for r in job.records.values()))
        return job

    def shard_tasks(self):
        """Each input scanned and planned as the engine asks for work, so the first shards run while later
        inputs are still being scanned (a scan reads the whole file)."""
        for item in self.items:
            if item.path in self.finished:
                self.summary.skipped += 1
                shutil.rmtree(self.out / item.name / ".parts", ignore_errors=True)  # killed after its manifest line
                continue
            job = self.plan(item)
            if job is None:
                continue
            if len(job.records) == len(job.shards):  # every shard was done before a restart
                self.finish(job)
                continue
            last = job.shards[-1].number
            yield from (ShardTask(path=item.path, parts=str(job.dir / ".parts"), shard=s, spec=self.spec,
                                  open_end=job.note is not None and s.number == last, **self.settings)
                        for s in job.shards if s.number not in job.records)

    def on_done(self, task: ShardTask, record: dict | None, error: str | None) -> None:
        job = self.jobs[task.path]
        if job.error is not None:
            return
        if error is not None:
            job.error = error
            self.fail(job.item, job.ident, error)
            return
        job.records[task.shard.number] = record
        if self.bar is not None:
            self.bar.update(record["frames"])
        if len(job.records) == len(job.shards):
            self.finish(job)


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
    if model is not None:
        from edgeseg.backend.bundle import load_bundle

        load_bundle(model)  # a bad --model is one line here, not a worker failing on every shard
    settings = {"outputs": tuple(outputs), "model": str(model) if model is not None else None, "backend": backend,
                "threads": threads, "alpha": alpha}
    batch = _Batch(items, out=out, spec=spec, settings=settings, shard_frames=shard_frames, echo=echo)
    try:
        work = len(batch.finished) < len(items)
        if work:  # workers open the model while the inputs are counted and the first is scanned
            engine.start(model=model, backend=backend, threads=threads)
        if progress:
            batch.open_bar()
        if work:
            engine.run(batch.shard_tasks(), batch.on_done)
        else:
            for _ in batch.shard_tasks():  # every input was finished before: counted as skipped
                pass
    finally:
        try:
            engine.close()
        finally:
            if batch.bar is not None:
                batch.bar.close()
            batch.manifest.compact()  # one line per input, its latest (also after an error or Ctrl-C)
    batch.summary.seconds = time.perf_counter() - start
    return batch.summary
