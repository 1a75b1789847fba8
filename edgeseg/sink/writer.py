"""Sinks written on their own threads, so encoding and file writing never run on the inference thread.

Usage::

    sink = ThreadedSink(OverlaySink("out.mp4", palette=p, fps=25))   # same write()/close() as the sink
    sink.write(result)   # returns at once unless `depth` results are already waiting (then it waits)
    sink.close()         # writes everything queued, closes the sink; re-raises a write error

Contract: every result given to write() reaches the wrapped sink, in order, before close() returns; nothing
is dropped when the writer is slower than the producer (the bounded queue makes the producer wait instead,
which also bounds memory). PyAV encoding, zlib and file I/O release the GIL, so on a multi-core machine
the writer runs alongside the inference thread. A failure on the writer thread (disk full) is raised on
the producer's thread once, at its next write() or at close(); the writer writes nothing more (later writes
are dropped by that output only) but keeps emptying the queue, so the producer never blocks on a dead writer.
"""

from __future__ import annotations

import queue
import threading

_END = object()


class ThreadedSink:
    """Wraps a sink (write(result, ...), close()) and runs both on a dedicated thread, in order."""

    def __init__(self, sink, *, depth: int = 8, name: str | None = None):
        self.sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self._error: BaseException | None = None  # raised once on the producer's thread
        self._failed = False  # set for good on the writer's thread at the first failure
        self._closed = False
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name=name or f"sink:{type(sink).__name__}",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                break
            if self._failed:
                continue  # keep emptying the queue: the producer must never block on a failed writer
            try:
                self.sink.write(*item[0], **item[1])
                self.written += 1
            except BaseException as exc:  # noqa: BLE001 - re-raised on the producer's thread
                self._failed, self._error = True, exc
        try:
            self.sink.close()
        except BaseException as exc:  # noqa: BLE001
            if not self._failed:
                self._failed, self._error = True, exc

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, *args, **kwargs) -> None:
        """Queue one write(result, ...) call (blocks while the queue is full); raises an earlier write's
        failure."""
        if self._closed:
            raise RuntimeError("write() after close()")
        self._raise()
        self._queue.put((args, kwargs))

    def close(self) -> None:
        """Write what is queued, close the wrapped sink and end the thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_END)
        self._thread.join()
        self._raise()

    @property
    def pending(self) -> int:
        """Results queued and not yet written."""
        return self._queue.qsize()

