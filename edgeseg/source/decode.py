"""Shared decode loop: a PyAV container → ``Frame`` objects in display order, with motion vectors and stats.

Usage (normally built by ``edgeseg.source.open_source``)::

    with Source(container, name=spec, is_live=False) as src:
        for frame in src: ...

Damaged packets/frames are dropped, counted in ``stats.corrupt`` and logged; the rest of the stream goes on.
Files with motion vectors (H.264 in MP4/MKV/MOV) decode their closed GOPs on `workers` threads
(``edgeseg.source.gop``); everything else decodes on one decoder, `prefetch` frames ahead on a thread.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from edgeseg.errors import SourceError
from edgeseg.source.frame import Frame
from edgeseg.source.gop import DAMAGED, FRAME, GopDecoder, decode_events, idr_test, put_unless_stopped

log = logging.getLogger("edgeseg.source")

# Decoders that fill FFmpeg's motion-vector side data with flags2=+export_mvs (software only).
MV_CODECS = frozenset({"h264", "mpeg4", "mpeg1video", "mpeg2video", "h263", "h263p", "msmpeg4v3", "flv"})
_PICT = {0: "?", 1: "I", 2: "P", 3: "B", 4: "P", 5: "I", 6: "P", 7: "B"}  # AVPictureType → letter (S/SI/SP/BI)


@dataclass(slots=True)
class SourceInfo:
    """What the source is. fps is 0.0 when the container does not say."""

    name: str
    width: int
    height: int
    fps: float
    codec: str
    exports_mvs: bool  # the decoder exports motion vectors (else frames carry mvs=None)
    is_live: bool
    max_refs: int | None = None  # H.264 SPS max_num_ref_frames (counts B-frame needs too); None unknown


@dataclass(slots=True)
class SourceStats:
    """Running counts. corrupt: frames/packets lost to damage; dropped: frames the source discarded on purpose
    (0 today: a full prefetch queue makes the decoder wait, live streams included)."""

    frames: int = 0
    corrupt: int = 0
    dropped: int = 0
    types: dict = field(default_factory=lambda: {"I": 0, "P": 0, "B": 0, "?": 0})

    def summary(self) -> str:
        t = self.types
        return (f"{self.frames} frames (I {t['I']}, P {t['P']}, B {t['B']}), "
                f"{self.corrupt} corrupt, {self.dropped} dropped")


def yuv420_planes(vf):
    """(Y, U, V, full_range): uint8 views of a decoded YUV 4:2:0 frame's planes (no copy), or None for other
    pixel formats. Full range: yuvj420p, or a frame tagged as JPEG range."""
    name = vf.format.name
    if name not in ("yuv420p", "yuvj420p"):
        return None
    views = [np.frombuffer(p, np.uint8, count=p.height * p.line_size).reshape(p.height, p.line_size)[:, :p.width]
             for p in vf.planes]
    return (*views, name == "yuvj420p" or getattr(vf, "color_range", 0) == 2)


class RgbConverter:
    """Decoded frame → (H, W, 3) uint8 RGB, optionally scaled (bilinear), through reused swscale contexts.

    Usage: ``rgb = RgbConverter(); image = rgb(video_frame); small = rgb(video_frame, 360, 480)``
    PyAV's ``frame.to_ndarray(format="rgb24")`` sets up a new context per frame: 0.54 vs 0.13 ms per
    360×480 frame here. One context per output size: switching one context between sizes rebuilds it
    (interp's photometric fusion alternates full-size keyframes and thumbnails: 0.46 vs 0.1 ms per thumbnail).
    Thread-safe (frames may be converted on any thread).
    """

    def __init__(self):
        from av.video.reformatter import VideoReformatter

        self._new, self._reformatters, self._lock = VideoReformatter, {}, threading.Lock()

    def __call__(self, vf, height: int | None = None, width: int | None = None) -> np.ndarray:
        with self._lock:
            reformatter = self._reformatters.get((height, width))
            if reformatter is None:
                reformatter = self._reformatters[(height, width)] = self._new()
            out = reformatter.reformat(vf, width=width, height=height, format="rgb24",
                                       interpolation="BILINEAR" if height else None)
            return out.to_ndarray()


class Source:
    """An iterable of Frame over one opened container; a context manager; iterate once."""

    def __init__(self, container, *, name: str, is_live: bool, export_mvs: bool = True, prefetch: int = 4,
                 workers: int | None = None, buffer_mb: float = 256.0, packets: Iterable | None = None,
                 first_index: int = 0):
        self.name = name
        # a window of the stream (edgeseg.batch): its packets in decode order, ending with an empty (draining)
        # packet, and the display index of its first frame; the container's frame count is then not checked
        self._window, self.first_index = packets, int(first_index)
        self.prefetch = prefetch  # frames decoded ahead on a background thread (0: decode in the caller)
        # GOP-parallel decoding (files with vectors, see edgeseg.source.gop): decoder threads, and the decoded
        # frames all of them may hold ahead of the consumer, in MB of YUV 4:2:0 (at least `prefetch` each)
        self.workers = min(_cpus(), 4) if workers is None else int(workers)
        self.buffer_mb = buffer_mb
        self._thread = None
        self._gop = None
        self._stop = threading.Event()
        self._container = container
        self._stream = container.streams.video[0]
        ctx = self._stream.codec_context
        codec = ctx.name
        self._want_mvs = export_mvs and codec in MV_CODECS
        opts = dict(ctx.options or {})
        if self._want_mvs:
            opts["flags2"] = "+export_mvs"
        ctx.options = opts
        # Measured (FFmpeg h264 via PyAV 18): frame threads drop the MOTION_VECTORS side data of random frames,
        # and slice threads switch off error concealment, so damaged frames are no longer flagged. With vectors
        # we decode on one thread; live streams avoid frame threads' latency (one frame per thread).
        if self._want_mvs:
            self._stream.thread_type, self._stream.thread_count = "NONE", 1
        else:
            self._stream.thread_type = "SLICE" if is_live else "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or 0
        self.info = SourceInfo(name=name, width=int(ctx.width), height=int(ctx.height),
                               fps=float(rate) if rate else 0.0, codec=codec,
                               exports_mvs=self._want_mvs, is_live=is_live)
        if codec == "h264":
            from edgeseg.source.h264 import max_ref_frames

            self.info.max_refs = max_ref_frames(ctx.extradata)
        self.stats = SourceStats()
        self._rgb = RgbConverter()
        self._meta = {"max_refs": self.info.max_refs} if self.info.max_refs else {}  # for MotionFieldBuilder
        self._derive_pts = container.format.name in ("avi", "h264", "hevc", "m4v", "mjpeg", "rawvideo")
        # closed GOPs can be told apart (avcC H.264: IDR NAL units) in files; live streams stay on one decoder
        self._is_idr = idr_test(ctx.extradata) if self._want_mvs and codec == "h264" and not is_live else None
        self._reorder = ctx.reorder_depth  # the decoder's start state (codec parameters' video_delay)

    def __iter__(self) -> Iterator[Frame]:
        if self._container is None:
            raise SourceError(f"{self.name}: source is closed")
        if self._thread is not None or self._gop is not None:
            raise SourceError(f"{self.name}: a source can be iterated only once")
        if self._is_idr is not None and self.workers > 1 and self.prefetch > 0:
            frame_mb = self.info.width * self.info.height * 1.5 / 2**20
            ahead = max(self.prefetch, int(self.buffer_mb / max(frame_mb, 1e-3) / self.workers))
            self._gop = GopDecoder(self._packets(), is_idr=self._is_idr, decoder=self._decoder,
                                   workers=self.workers, ahead=min(ahead, 1024), stop=self._stop,
                                   name=self.name)
            return self._frames(self._gop)
        return self._prefetched() if self.prefetch > 0 else self._frames()

    @property
    def gops(self) -> int:
        """GOPs handed to the parallel decoders so far (0: one decoder)."""
        return self._gop.gops if self._gop is not None else 0

    def _decoder(self):
        """A new single-threaded decoder with this stream's parameters and vector export (for GOP workers)."""
        import av

        src = self._stream.codec_context
        ctx = av.CodecContext.create(src.name, "r")
        ctx.extradata = src.extradata
        ctx.width, ctx.height = src.width, src.height
        if src.pix_fmt is not None:  # unknown when the file ends before the probe saw a picture
            ctx.pix_fmt = src.pix_fmt
        ctx.options = {"flags2": "+export_mvs"}
        ctx.thread_type, ctx.thread_count = "NONE", 1
        ctx.reorder_depth = self._reorder
        return ctx

    def _prefetched(self) -> Iterator[Frame]:
        """Decode on a worker thread (PyAV releases the GIL) so decoding overlaps the consumer's work."""
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        done = object()

        def work():
            try:
                for frame in self._frames():
                    if not put_unless_stopped(q, frame, self._stop):
                        return
                put_unless_stopped(q, done, self._stop)
            except BaseException as exc:  # handed to the consumer, raised there
                put_unless_stopped(q, exc, self._stop)

        self._thread = threading.Thread(target=work, name=f"decode:{self.name}", daemon=True)
        self._thread.start()
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _packets(self):
        import av

        if self._window is not None:
            yield from self._window
            return
        while True:
            try:
                yield from self._container.demux(self._stream)
                return
            except av.error.EOFError:
                return
            except av.error.InvalidDataError as exc:  # damaged container data
                self._corrupt(f"demux: {exc}")
                if not self.info.is_live:
                    return
            except (OSError, av.error.FFmpegError) as exc:
                raise SourceError(f"{self.name}: read failed ({ffmpeg_cause(exc)})") from None

    def _frames(self, events=None) -> Iterator[Frame]:
        """Decode events (one decoder unless given) → frames; a lost packet or damaged frame costs one index."""
        if events is None:
            events = decode_events(self._stream.codec_context, self._packets(), want_mvs=self._want_mvs)
        index = self.first_index
        for event in events:
            if event[0] is FRAME:
                yield self._frame(event[1], index, event[2])
            elif event[0] is DAMAGED:
                self._corrupt(f"frame {index} is damaged")
            else:  # LOST: a packet the decoder rejected, one frame position lost
                self._corrupt(event[1])
            index += 1
        expected = 0 if self.info.is_live or self._window is not None else int(self._stream.frames or 0)
        if index < expected:  # the container's index promises more frames than the file holds
            raise SourceError(f"{self.name}: truncated video (file ends after {index} of {expected} frames)")

    def _frame(self, vf, index: int, mvs) -> Frame:
        ptype = _PICT.get(int(vf.pict_type), "?")
        self.stats.frames += 1
        self.stats.types[ptype] += 1
        pts = vf.time
        if (pts is None or self._derive_pts) and self.info.fps:
            pts = index / self.info.fps  # raw bitstreams and AVI carry no display times: from the frame rate
        # pixels are converted on first use: the runtime needs them on keyframes only
        rgb = self._rgb
        meta = dict(self._meta)
        if vf.key_frame and ptype == "I":  # H.264: an IDR (or recovery point): no later frame predicts across it
            meta["key"] = True
        return Frame(index=index, pts=pts, pict_type=ptype, mvs=mvs, size=(vf.height, vf.width),
                     loader=lambda: rgb(vf), meta=meta, scaler=lambda h, w: rgb(vf, h, w),
                     planes=lambda: yuv420_planes(vf))

    def _corrupt(self, what: str) -> None:
        self.stats.corrupt += 1
        log.warning("%s: %s (skipped)", self.name, what)

    def close(self) -> None:
        """Stop the decode thread and release the container (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        if self._gop is not None:
            self._gop.close()
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


def ffmpeg_cause(exc: BaseException) -> str:
    """FFmpeg's message without the errno and file name decorations."""
    return getattr(exc, "strerror", None) or str(exc).split(":")[0]
