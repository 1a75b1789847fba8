"""GOP-parallel decoding: closed H.264 GOPs (split at IDR access units) decoded on worker threads, in order.

Usage: ``for event in GopDecoder(packets, is_idr=idr_test(extradata), decoder=make_ctx, workers=2, ahead=32,
stop=threading.Event()): ...`` (``edgeseg.source.decode.Source`` does this for files with motion vectors).

Why it is exact: an IDR picture empties the reference buffer, so no frame after it (decode order) predicts from
a frame before it, and H.264 displays every frame decoded before an IDR before that IDR. Consecutive closed GOPs
decoded by separate single-threaded decoders therefore give the same frames (pixels, pts, picture type, motion
vectors) in the same display order as one decoder. Only IDRs split: the recovery-point I-frames of open-GOP
streams (whose leading B-frames predict from the previous GOP) do not, so such a stream is one GOP, decoded by
one worker — sequential, exact. Each worker decodes on one thread (frame threads drop vectors, see
docs/MOTION.md) with ``flags2=+export_mvs`` and also extracts the vectors; PyAV releases the GIL while FFmpeg
decodes, so the workers run in parallel.
Memory is bounded: each GOP's decoded frames wait in a queue of `ahead` frames, each GOP's packets in a queue
of MAX_PACKETS, and at most `workers` + 1 GOPs are in flight.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

FRAME, DAMAGED, LOST = "frame", "damaged", "lost"  # event kinds: a good frame, a flagged frame, a rejected packet
MAX_PACKETS = 512  # compressed packets queued per GOP ahead of its decoder
_END = object()  # end of a queue's items


def idr_test(extradata: bytes | None) -> Callable | None:
    """avcC extradata (MP4/MKV/MOV H.264) → ``is_idr(packet)``; None for Annex B streams (no length prefixes)."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    n = (extradata[4] & 3) + 1  # NAL length-prefix size

    def is_idr(packet) -> bool:
        """The access unit holds an IDR slice (NAL type 5); its first slice decides."""
        data = memoryview(packet)
        pos, end = 0, len(data)
        while pos + n < end:
            kind = data[pos + n] & 0x1F
            if kind in (1, 5):
                return kind == 5
            pos += n + int.from_bytes(data[pos:pos + n], "big")
        return False

    return is_idr


def decode_events(ctx, packets: Iterable, *, want_mvs: bool) -> Iterator[tuple]:
    """Decode `packets` with `ctx` → events in display order: (FRAME, av_frame, mvs) / (DAMAGED, None) /
    (LOST, message). An empty packet drains the decoder; EOF from the decoder ends the events."""
    import av

    from edgeseg.source.vectors import vectors_from_av

    for packet in packets:
        try:
            decoded = ctx.decode(packet)
        except (av.error.InvalidDataError, av.error.BugError) as exc:
            yield LOST, f"decode at packet pts {packet.pts}: {exc}"
            continue
        except av.error.EOFError:
            return
        for vf in decoded:
            if vf.is_corrupt:
                yield DAMAGED, None
            else:
                yield FRAME, vf, vectors_from_av(vf) if want_mvs else None


class _Gop:
    """One GOP in flight: its packets in, its events out."""

    def __init__(self, ahead: int):
        self.packets: queue.Queue = queue.Queue(maxsize=MAX_PACKETS)
        self.events: queue.Queue = queue.Queue(maxsize=ahead)


def put_unless_stopped(q: queue.Queue, item, stop: threading.Event) -> bool:
    """q.put(item), giving up (False) once `stop` is set: a producer never blocks a shutdown."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            continue
    return _END


class GopDecoder:
    """The events of decode_events for a whole stream, in order, with its GOPs decoded on `workers` threads.

    packets: the demuxer's packets in decode order (an exception raised while reading reaches the consumer after
    the events before it). decoder(): a new single-threaded decoder context. Iterate once; `stop` ends the
    threads (close() sets it and joins them). `gops`: GOPs seen so far.
    """

    def __init__(self, packets: Iterable, *, is_idr: Callable, decoder: Callable, workers: int, ahead: int,
                 stop: threading.Event, want_mvs: bool = True, name: str = "source"):
        self._packets, self._is_idr, self._decoder = packets, is_idr, decoder
        self.workers, self.ahead, self.want_mvs = max(1, int(workers)), max(1, int(ahead)), want_mvs
        self._stop, self.gops = stop, 0
        self._order: queue.Queue = queue.Queue(maxsize=self.workers + 1)  # GOPs in stream order, for the consumer
        self._jobs: queue.Queue = queue.Queue()  # the same GOPs, for the workers (bounded through _order)
        self.threads = [threading.Thread(target=self._dispatch, name=f"demux:{name}", daemon=True)]
        self.threads += [threading.Thread(target=self._work, name=f"decode{i}:{name}", daemon=True)
                         for i in range(self.workers)]

    def _dispatch(self) -> None:
        stop, gop = self._stop, None
        try:
            for packet in self._packets:
                if packet.size == 0:  # the demuxer's end-of-stream packet: each worker drains its decoder itself
                    continue
                if gop is None or self._is_idr(packet):
                    if gop is not None:
                        put_unless_stopped(gop.packets, _END, stop)
                    gop = _Gop(self.ahead)
                    self.gops += 1
                    if not (put_unless_stopped(self._order, gop, stop) and put_unless_stopped(self._jobs, gop, stop)):
                        return
                if not put_unless_stopped(gop.packets, packet, stop):
                    return
            if gop is not None:
                put_unless_stopped(gop.packets, _END, stop)
            put_unless_stopped(self._order, _END, stop)
        except BaseException as exc:  # a read failure: handed to the consumer after the GOPs before it
            if gop is not None:
                put_unless_stopped(gop.packets, _END, stop)
            put_unless_stopped(self._order, exc, stop)
        finally:
            for _ in range(self.workers):
                self._jobs.put(None)

    def _gop_packets(self, gop: _Gop):
        import av

        last = None
        while (packet := _get(gop.packets, self._stop)) is not _END:
            yield (last := packet)
        drain = av.Packet()  # empty: the GOP's last frames come out (with the time base their pts need)
        if last is not None:
            drain.time_base = last.time_base
        yield drain

    def _work(self) -> None:
        ctx, stop = None, self._stop
        while (gop := _get(self._jobs, stop)) is not None and gop is not _END:
            try:
                if ctx is None:
                    ctx = self._decoder()
                feed = self._gop_packets(gop)
                for event in decode_events(ctx, feed, want_mvs=self.want_mvs):
                    if not put_unless_stopped(gop.events, event, stop):
                        return
                for _ in feed:  # the decoder hit EOF early: take the rest so the dispatcher goes on
                    pass
                ctx.flush_buffers()
                put_unless_stopped(gop.events, _END, stop)
            except BaseException as exc:  # handed to the consumer, raised there
                put_unless_stopped(gop.events, exc, stop)

    def __iter__(self) -> Iterator[tuple]:
        for t in self.threads:
            t.start()
        try:
            while (gop := _get(self._order, self._stop)) is not _END:
                if isinstance(gop, BaseException):
                    raise gop
                while (event := _get(gop.events, self._stop)) is not _END:
                    if isinstance(event, BaseException):
                        raise event
                    yield event
        finally:
            self.close()

    def close(self) -> None:
        """Stop and join the threads (idempotent)."""
        self._stop.set()
        for t in self.threads:
            if t.is_alive() and t is not threading.current_thread():
                t.join()
