"""`edgeseg motion SOURCE --dump DIR`: raw motion vectors in the mv-extractor layout, with a summary line.

Usage: ``edgeseg motion clip.mp4 --dump out/ --max-frames 100 --frames``
"""

from __future__ import annotations

import sys
import time

import click

from edgeseg.limits import MAX_FRAMES, TIMEOUT_S


@click.command()
@click.argument("source")
@click.option("--dump", "dump_dir", type=click.Path(file_okay=False), default=None,
              help="Write DIR/frame_types.txt, DIR/motion_vectors/mvs-<i>.npy (and frames with --frames).")
@click.option("--max-frames", type=MAX_FRAMES.click(), default=None, help="Stop after N frames.")
@click.option("--frames", "with_frames", is_flag=True, help="Also write DIR/frames/frame-<i>.jpg.")
@click.option("--timeout", type=TIMEOUT_S.click(), default=10.0, show_default=True,
              help="Seconds to connect / per read (RTSP, cameras).")
def motion(source: str, dump_dir: str | None, max_frames: int | None, with_frames: bool, timeout: float) -> None:
    """Decode SOURCE (file, rtsp:// URL, cameraN, demo) and dump its raw motion vectors.

    A source that ends early (a truncated file, a dropped stream) keeps the frames decoded up to there: they are
    dumped and counted, the summary line says where it ended, and the command succeeds. A source that yields no frame at
    all is an error, and leaves no dump behind.
    """
    from edgeseg.errors import ConfigError
    from edgeseg.source import open_source

    if with_frames and dump_dir is None:
        raise ConfigError("--frames needs --dump DIR")
    start = time.perf_counter()
    with open_source(source, timeout=timeout) as src:
        if not src.info.exports_mvs:
            click.echo(f"warning: {source}: codec {src.info.codec} exports no motion vectors "
                       "(every mvs file is empty)", err=True)
        ended = _dump(src, dump_dir, max_frames, with_frames)
        seconds = time.perf_counter() - start
        t = src.stats.types
        where = f" → {dump_dir}" if dump_dir else ""
        note = f" (source ended early: {ended})" if ended else ""  # as `edgeseg run`'s summary says it
        click.echo(f"{source}: {src.stats.frames} frames (I {t['I']}, P {t['P']}, B {t['B']}), "
                   f"{src.stats.corrupt} corrupt, {seconds:.2f} s{where}{note}")


def _dump(src, dump_dir, max_frames, with_frames) -> str | None:
    """Every frame of src (up to max_frames) into the dump, if any; returns why the source ended early, or None.
    Nothing decoded: the source's error is raised and the dump removed."""
    from tqdm import tqdm

    from edgeseg.errors import SourceError
    from edgeseg.motion.dump import MvDump

    dump = MvDump(dump_dir, frames=with_frames) if dump_dir else None
    bar = tqdm(total=max_frames, unit="frame", disable=not sys.stderr.isatty(), leave=False)
    n, ended, failed = 0, None, True
    try:
        for frame in src:
            if dump is not None:
                dump.write(frame)
            n += 1
            bar.update()
            if max_frames is not None and n >= max_frames:
                break
        failed = False
    except SourceError as exc:
        if n == 0:
            raise  # nothing was read: the input is bad, not cut short
        ended, failed = str(exc), False  # the data ended: keep what was decoded, as `edgeseg run` does
    finally:
        bar.close()
        if dump is not None and failed and n == 0:
            dump.discard()  # failed before its first frame: leave nothing behind
        elif dump is not None:
            dump.close()
    return ended
