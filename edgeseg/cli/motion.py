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
    """Decode SOURCE (file, rtsp:// URL, cameraN, demo) and dump its raw motion vectors."""
    from tqdm import tqdm

    from edgeseg.errors import ConfigError
    from edgeseg.motion.dump import MvDump
    from edgeseg.source import open_source

    if with_frames and dump_dir is None:
        raise ConfigError("--frames needs --dump DIR")
    start = time.perf_counter()
    with open_source(source, timeout=timeout) as src:
        if not src.info.exports_mvs:
            click.echo(f"warning: {source}: codec {src.info.codec} exports no motion vectors "
                       "(every mvs file is empty)", err=True)
        dump = MvDump(dump_dir, frames=with_frames) if dump_dir else None
        bar = tqdm(total=max_frames, unit="frame", disable=not sys.stderr.isatty(), leave=False)
        try:
            for n, frame in enumerate(src, 1):
                if dump is not None:
                    dump.write(frame)
                bar.update()
                if max_frames is not None and n >= max_frames:
                    break
        finally:
            bar.close()
            if dump is not None:
                dump.close()
        seconds = time.perf_counter() - start
        t = src.stats.types
        where = f" → {dump_dir}" if dump_dir else ""
        click.echo(f"{source}: {src.stats.frames} frames (I {t['I']}, P {t['P']}, B {t['B']}), "
                   f"{src.stats.corrupt} corrupt, {seconds:.2f} s{where}")
