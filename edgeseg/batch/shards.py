"""A file split at its IDR frames into shards of about N frames, found from the packets without decoding.

Usage: ``scan = scan_file("clip.mp4"); shards = plan_shards(scan, shard_frames=2000, exact=True)``

A shard is a run of whole closed GOPs: it starts at an IDR (or the first frame), which every frame after it
in decode order is displayed after and none predicts across, so decoding from that IDR gives the same frames
as decoding the whole file (edgeseg.source.gop). A cut is taken only where that is checked: an IDR whose
decode position equals the number of frames displayed before it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from edgeseg.errors import SourceError


@dataclass(frozen=True)
class Cut:
    """An IDR a shard may start at: its display index, and its packet's pts and dts (stream time base)."""

    index: int
    pts: int
    dts: int | None


@dataclass(frozen=True, kw_only=True)
class Scan:
    """What a file holds: frame count (packets found), size, frame rate, its IDR cuts after the first frame, and
    the frame count its container states."""

    frames: int
    width: int
    height: int
    fps: float
    cuts: tuple[Cut, ...]
    expected: int = 0  # the container's frame count (0: it states none)
    torn: bool = False  # the last packet is cut short by the file's end (the demuxer flags it corrupt)

    @property
    def truncated(self) -> bool:
        """The file's data stops early (a cut-off copy): fewer frames than its container states, or a last
        frame cut short."""
        return 0 < self.frames < self.expected or (self.frames > 0 and self.torn)


@dataclass(frozen=True, kw_only=True)
class Shard:
    """Frames [start, end) of one file, starting at `cut` (None: the file's start) and, unless it is the
    last, ending right before `next_cut`."""

    number: int
    start: int
    end: int
    cut: Cut | None
    next_cut: Cut | None

    @property
    def frames(self) -> int:
        return self.end - self.start


def container_frames(path: str) -> int:
    """The frame count the container states (0 when it states none or cannot be opened): a progress total
    before the file is scanned."""
    import av

    try:
        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames or 0)
    except (OSError, IndexError, av.error.FFmpegError):
        return 0


def scan_file(path: str) -> Scan:
    """Demux `path` (no decoding) → its Scan; SourceError (one line) for a missing, empty or damaged file, one
    that is not a video, or one without a single frame. A truncated file (fewer packets than its container
    states) scans as what it holds, `truncated` set; an IDR cut short by the file's end is no cut."""
    import av

    from edgeseg.source.decode import ffmpeg_cause
    from edgeseg.source.file import open_file
    from edgeseg.source.gop import idr_test

    with open_file(path, export_mvs=False) as source:  # the same checks and messages as `run`
        info = source.info
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise SourceError(f"{path}: cannot open ({ffmpeg_cause(exc)})") from None
    with container:
        stream = container.streams.video[0]
        is_idr = idr_test(stream.codec_context.extradata) if stream.codec_context.name == "h264" else None
        pts, idrs, torn = [], [], False
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if is_idr is not None and packet.pts is not None and not packet.is_corrupt and is_idr(packet):
                    idrs.append((len(pts), packet.pts, packet.dts))
                pts.append(packet.pts)
                torn = packet.is_corrupt
        except av.error.FFmpegError as exc:
            raise SourceError(f"{path}: truncated or damaged video ({ffmpeg_cause(exc)})") from None
        expected = int(stream.frames or 0)
    if not pts:
        raise SourceError(f"{path}: truncated or damaged video (no decodable frames)")
    cuts = []
    if None not in pts:
        ordered = sorted(pts)
        # closed GOP: every frame before the IDR in decode order is displayed before it, none after it
        cuts = [Cut(n, p, d) for n, p, d in idrs if n > 0 and bisect_left(ordered, p) == n]
    return Scan(frames=len(pts), width=info.width, height=info.height, fps=info.fps, cuts=tuple(cuts),
                expected=expected, torn=torn)


def truncation_note(path: str, scan: Scan) -> str:
    """Where a truncated file ends (as `edgeseg run` says it where the container states its frame count)."""
    if scan.frames < scan.expected:
        return f"{path}: truncated video (file ends after {scan.frames} of {scan.expected} frames)"
    return f"{path}: truncated video (file ends inside frame {scan.frames - 1})"


def plan_shards(scan: Scan, *, shard_frames: int, exact: bool = True) -> list[Shard]:
    """Whole GOPs grouped into shards of at least `shard_frames` frames (a GOP is never split; the last shard
    may be shorter). exact=False (settings under which a stream started at an IDR segments differently from
    the whole stream): one shard."""
    bounds: list[Cut | None] = [None]
    if exact and shard_frames > 0:
        start = 0
        for cut in scan.cuts:
            if cut.index - start >= shard_frames:
                bounds.append(cut)
                start = cut.index
    shards = []
    for n, cut in enumerate(bounds):
        nxt = bounds[n + 1] if n + 1 < len(bounds) else None
        shards.append(Shard(number=n, start=cut.index if cut else 0, end=nxt.index if nxt else scan.frames,
                            cut=cut, next_cut=nxt))
    return shards
