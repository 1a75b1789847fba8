"""One model shared by several camera threads: concurrent keyframe feature calls become one batched call.

Usage::

    shared = BatchingNetworks(nets, max_batch=8, wait_s=0.0)       # nets: edgeseg.backend.open_networks
    seg = build_segmenter(spec, nets=shared.client(), bundle=bundle)   # one client per camera thread
    ...
    shared.close()

Calls that queue up while the model is busy go together in the next call. A call also waits at most `wait_s`
for others to join (0: never waits); it goes at once when every registered client is waiting, so a stalled
camera never holds up the others for longer than `wait_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np


class _Request:
    __slots__ = ("images", "result", "error", "done")

    def __init__(self, images):
        self.images, self.result, self.error, self.done = images, None, None, threading.Event()


class BatchingNetworks:
    """Thread-safe `Networks` (edgeseg.backend.Networks) over others: features() batched across threads,
    scores() and labels() passed through.

    on_batch(size, seconds) and on_task(seconds) are called after each feature / task call (metrics).
    On a GPU backend (DeviceNetworks) the batched features stay on the device (each client gets its rows as a
    device view) and label maps come from the task_labels engine, as in `edgeseg run`.
    """

    def __init__(self, nets, *, max_batch: int = 8, wait_s: float = 0.0,
                 on_batch: Callable[[int, float], None] | None = None,
                 on_task: Callable[[float], None] | None = None):
        self.nets, self.max_batch, self.wait_s = nets, max(1, int(max_batch)), float(wait_s)
        self.on_batch, self.on_task = on_batch, on_task
        self.xp = nets.xp  # the array module features come in
        # onnxruntime CPU sessions may run concurrently; a TensorRT context (and a CUDA runner's IO binding)
        # may not: GPU backends' task calls are serialised
        self._task_lock = threading.Lock() if nets.xp is not np else None
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._clients = 0
        self._closed = False
        self.batches: list[int] = []  # sizes of the feature calls made (bounded: last 10 000)
        self._thread = threading.Thread(target=self._loop, name="feature-batcher", daemon=True)
        self._thread.start()

    # -- Networks protocol ----------------------------------------------------------------------------
    def features(self, images: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) → (N, C, h, w); blocks until the batch that holds these images ran."""
        req = _Request(np.ascontiguousarray(images, np.float32))
        with self._cond:
            if self._closed:
                raise RuntimeError("the feature batcher is closed")
            self._queue.append(req)
            self._cond.notify_all()
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result

    def scores(self, features: np.ndarray) -> np.ndarray:
        """(N, C, h, w) → (N, K, h, w) class scores on the host."""
        return self._task(self.nets.scores, features)

    def labels(self, features) -> np.ndarray | None:
        """GPU backends: (1, C, h, w) device features → label map from the task_labels engine; else None."""
        if self.xp is np:
            return None
        return self._task(self.nets.labels, features)

    def _task(self, fn, features):
        t = time.perf_counter()
        if self._task_lock is None:
            out = fn(features)
        else:
            with self._task_lock:
                out = fn(features)
        if self.on_task is not None:
            self.on_task(time.perf_counter() - t)
        return out

    # -- clients ----------------------------------------------------------------------------------------
    def client(self) -> _Client:
        """A handle for one camera thread; counts towards 'everybody is waiting'. Release with close()."""
        with self._cond:
            self._clients += 1
        return _Client(self)

    def _release(self) -> None:
        with self._cond:
            self._clients -= 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # -- the batching thread ----------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                deadline = time.monotonic() + self.wait_s
                while (len(self._queue) < min(self.max_batch, max(self._clients, 1)) and not self._closed
                       and (left := deadline - time.monotonic()) > 0):
                    self._cond.wait(left)
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        t = time.perf_counter()
        groups: dict[tuple, list[_Request]] = {}  # keyframes and correction tiles differ in size
        for r in batch:
            groups.setdefault(r.images.shape[1:], []).append(r)
        for group in groups.values():
            try:
                out = self.nets.features(np.concatenate([r.images for r in group]) if len(group) > 1
                                         else group[0].images)
                at = 0
                for r in group:
                    r.result = out[at:at + r.images.shape[0]]
                    at += r.images.shape[0]
            except BaseException as exc:  # handed to every waiting caller
                for r in group:
                    r.error = exc
        seconds = time.perf_counter() - t
        self.batches.append(len(batch))
        del self.batches[:-10_000]
        if self.on_batch is not None:
            self.on_batch(len(batch), seconds)
        for r in batch:
            r.done.set()


class _Client:
    """What one segmenter sees: the shared batcher's features()/scores() (and labels() on a GPU backend)."""

    def __init__(self, shared: BatchingNetworks):
        self._shared, self._open = shared, True
        self.xp = shared.xp  # numpy, or cupy where features stay on the device

    def features(self, images):
        return self._shared.features(images)

    def scores(self, features):
        return self._shared.scores(features)

    def labels(self, features):
        return self._shared.labels(features)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._shared._release()
