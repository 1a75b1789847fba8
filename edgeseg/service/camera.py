"""One camera's worker thread: open (retrying with capped exponential backoff) → segment → rolling outputs.

Usage::

    w = CameraWorker(cam_cfg, shared=batcher, bundle=bundle, metrics=metrics)
    w.start(); ...; w.stop(); w.join(timeout=10)   # stop flushes held frames and finishes the open segment

A camera missing at start is retried like a lost one. Live sources (RTSP, cameras) are reopened after any
loss; files end the worker unless ``loop = true``.
"""

from __future__ import annotations

import logging
import threading
import time

from edgeseg.errors import EdgesegError, SourceError
from edgeseg.service.config import CameraConfig
from edgeseg.service.metrics import NullMetrics
from edgeseg.service.segments import RollingOutputs, enforce_retention
from edgeseg.sink.writer import ThreadedSink

log = logging.getLogger("edgeseg.service")


def backoff_delays(min_s: float, max_s: float):
    """min_s, 2·min_s, 4·min_s … capped at max_s (forever)."""
    delay = min_s
    while True:
        yield delay
        delay = min(max_s, delay * 2)


def _paced(pairs, fps: float, stop: threading.Event):
    """Yield pairs no faster than `fps` (a file played like a live camera)."""
    start, period = time.monotonic(), 1.0 / (fps or 25.0)
    for k, pair in enumerate(pairs):
        wait = start + k * period - time.monotonic()
        if wait > 0 and stop.wait(wait):
            return
        yield pair


def drop_late(pairs, *, max_lag_s: float, on_drop, clock=time.monotonic):
    """Live sources: skip frames while segmentation lags the stream by more than max_lag_s (wall clock vs
    frame pts), so latency stays bounded; on_drop(frame) is called for each (then force a keyframe: the
    motion chain is broken). Frames without pts are never dropped."""
    origin, skipped = None, False
    for frame, fld in pairs:
        if frame.pts is None:
            yield frame, fld
            continue
        now = clock()
        if origin is None:
            origin = now - frame.pts
        lag = now - (origin + frame.pts)
        if lag < 0:  # the stream runs ahead of our clock (buffered start, clock drift): re-anchor
            origin = now - frame.pts
        elif lag > max_lag_s:
            on_drop(frame)
            skipped = True
            continue
        yield frame, (None if skipped else fld)  # motion to a skipped frame means nothing to the segmenter
        skipped = False


class CameraWorker:
    """A thread that keeps one camera segmented until stop(). state: starting, connecting, running, waiting
    (backing off before a retry), finished (a file ended), stopped."""

    def __init__(self, cfg: CameraConfig, *, shared, bundle, metrics=None, taps=()):
        """taps: functions (camera name, result) called with every result (the live view, MQTT); each must
        return at once (they only keep a reference)."""
        self.cfg, self.shared, self.bundle = cfg, shared, bundle
        self.taps = tuple(taps)
        self.metrics = metrics if metrics is not None else NullMetrics()
        self.state = "starting"
        self.frames = 0
        self.keyframes = 0
        self.reconnects = 0
        self.dropped = 0  # live frames skipped to catch up (max_lag_s)
        self.failures = 0  # failed open attempts in a row
        self.last_error: str | None = None
        self.last_audit: float | None = None  # agreement at the last audit
        self.attempted = threading.Event()  # set after the first open attempt, good or bad
        self.last_progress = time.monotonic()
        self._stop = threading.Event()
        self._outputs: ThreadedSink | None = None
        self._connection = 0
        self._audit_at = 0.0
        self._audit_seg = None
        self._src_seen = (0, 0)
        self._thread = threading.Thread(target=self._main, name=f"camera:{cfg.name}", daemon=True)

    # -- control ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to flush and end; returns whether it did within `timeout`."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def progressing(self, stall_s: float) -> bool:
        """False only when the source is connected but no frame came for stall_s (a stuck stream)."""
        if self.state == "running":
            return time.monotonic() - self.last_progress < stall_s
        return self.alive or self.state in ("finished", "stopped")

    def status(self) -> dict:
        return {"state": self.state, "frames": self.frames, "keyframes": self.keyframes,
                "reconnects": self.reconnects, "dropped": self.dropped, "since_last_frame_s": round(time.monotonic() - self.last_progress, 3),
                "last_error": self.last_error, "audit_agreement": self.last_audit}

    # -- the thread -------------------------------------------------------------------------------------
    def _main(self) -> None:
        client = self.shared.client()
        try:
            self._loop(client)
        finally:
            client.close()
            if self._outputs is not None:
                self._outputs.close()
            self._retention()
            if self.state != "finished":
                self.state = "stopped"
            log.info("%s: %s after %d frames (%d keyframes, %d reconnects)", self.cfg.name, self.state,
                     self.frames, self.keyframes, self.reconnects)
            self.metrics.connected.labels(camera=self.cfg.name).set(0)

    def _loop(self, client) -> None:
        from edgeseg.pipeline import open_for

        cfg = self.cfg
        delays = backoff_delays(cfg.reconnect_min_s, cfg.reconnect_max_s)
        was_connected = False
        self._retention()
        while not self._stop.is_set():
            self.state = "connecting"
            try:
                source = open_for(cfg.spec, cfg.uri, timeout=cfg.timeout_s)
            except SourceError as exc:
                self._failed(str(exc))
                self.attempted.set()
                if self._stop.wait(next(delays)):
                    return
                continue
            self.attempted.set()
            self.last_error = None
            if was_connected and source.info.is_live:
                self.reconnects += 1
                self.metrics.reconnects.labels(camera=cfg.name).inc()
                log.info("%s: reconnected to %s (reconnect %d)", cfg.name, cfg.uri, self.reconnects)
            frames_before = self.frames
            try:
                with source:
                    self._segment(source, client)
            except SourceError as exc:
                self._failed(str(exc))
            except EdgesegError as exc:  # outputs cannot be written: retrying will not help soon
                self._failed(str(exc))
                outputs, self._outputs = self._outputs, None  # a failed writer stays failed: open new ones
                try:
                    if outputs is not None:
                        outputs.close()
                except EdgesegError as again:
                    log.warning("%s: %s", cfg.name, again)
            except Exception:
                log.exception("%s: worker error; retrying", cfg.name)
                self._failed("internal error (see log)")
            self.metrics.connected.labels(camera=cfg.name).set(0)
            if self._stop.is_set():
                return
            if self.frames > frames_before:
                was_connected = True
                self.failures = 0
                delays = backoff_delays(cfg.reconnect_min_s, cfg.reconnect_max_s)
            if not source.info.is_live and not cfg.loop and self.frames > frames_before:
                self.state = "finished"
                log.info("%s: %s ended after %d frames", cfg.name, cfg.uri, self.frames)
                return
            if source.info.is_live:
                log.warning("%s: stream lost (%s); reconnecting", cfg.name, self.last_error or "ended")
                self.state = "waiting"
                if self._stop.wait(next(delays)):
                    return

    def _failed(self, why: str) -> None:
        self.failures += 1
        self.last_error = why
        self.state = "waiting"
        log.warning("%s: %s (attempt %d; retrying)", self.cfg.name, why, self.failures)

    def _segment(self, source, client) -> None:
        from edgeseg.pipeline import build_segmenter, motion_pairs, run_stream
        from edgeseg.pipeline.modes import REFERENCE
        from edgeseg.schedule import ForcedKeyframes

        cfg, spec, bundle = self.cfg, self.cfg.spec, self.bundle
        fps = source.info.fps or 25.0
        if self._outputs is None:
            self._outputs = ThreadedSink(RollingOutputs(  # written on its own thread, like `edgeseg run`
                cfg.out, segment_seconds=cfg.segment_seconds, fps=fps, classes=bundle.classes,
                palette=bundle.palette, outputs=cfg.outputs, live=source.info.is_live,
                on_finished=lambda _p: self._retention()))
        policy = ForcedKeyframes(spec.policy())
        seg = build_segmenter(spec, nets=client, bundle=bundle, policy=policy)
        if cfg.audit_seconds > 0 and spec.plan.carries:  # the audit: the full model on the same frame
            self._audit_seg = build_segmenter(spec.replace(mode=REFERENCE), nets=client, bundle=bundle)
            if not self._audit_at:  # once per worker: a looping file or a flapping stream must not reset it
                self._audit_at = time.monotonic() + cfg.audit_seconds
        self._connection += 1
        self._src_seen = (0, 0)
        self.state = "running"
        self.last_progress = time.monotonic()
        self.metrics.connected.labels(camera=cfg.name).set(1)
        log.log(logging.INFO if self._connection == 1 or source.info.is_live else logging.DEBUG,
                "%s: streaming %s (%dx%d, %.1f fps, mode %s, K=%d)", cfg.name, cfg.uri, source.info.width,
                 source.info.height, fps, spec.mode, spec.keyframe_interval)
        pairs = motion_pairs(source, spec)
        if cfg.realtime and not source.info.is_live:
            pairs = _paced(pairs, fps, self._stop)
        if source.info.is_live and cfg.max_lag_s > 0:
            def dropped(_frame):
                policy.force = True
                self.dropped += 1
                self.metrics.dropped.labels(camera=cfg.name).inc()

            pairs = drop_late(pairs, max_lag_s=cfg.max_lag_s, on_drop=dropped)
        summary = run_stream(pairs, seg, stop=self._stop, on_result=lambda r: self._on_result(r, source))
        if summary.source_error:
            self.last_error = summary.source_error
        self._count_source(source)

    def _count_source(self, source) -> None:
        corrupt, dropped = source.stats.corrupt, source.stats.dropped
        seen_c, seen_d = self._src_seen
        if corrupt > seen_c:
            self.metrics.decode_errors.labels(camera=self.cfg.name).inc(corrupt - seen_c)
        if dropped > seen_d:
            self.metrics.dropped.labels(camera=self.cfg.name).inc(dropped - seen_d)
        self._src_seen = (corrupt, dropped)

    def _on_result(self, result, source) -> None:
        name = self.cfg.name
        extra = {"connection": self._connection}
        if self._audit_seg is not None and not result.keyframe and time.monotonic() >= self._audit_at:
            self._audit_at = time.monotonic() + self.cfg.audit_seconds
            full = self._audit_seg.push(result.frame, None)[0]
            self.last_audit = float((full.labels == result.labels).mean())
            extra["audit_agreement"] = round(self.last_audit, 5)
            self.metrics.audit.labels(camera=name).set(self.last_audit)
            self.metrics.audits.labels(camera=name).inc()
        self._outputs.write(result, extra=extra)
        for tap in self.taps:
            tap(name, result)
        self.frames += 1
        self.keyframes += bool(result.keyframe)
        self.last_progress = time.monotonic()
        m = self.metrics
        m.frames.labels(camera=name).inc()
        if result.keyframe:
            m.keyframes.labels(camera=name).inc()
        m.keyframe_ratio.labels(camera=name).set(self.keyframes / self.frames)
        m.latency.labels(camera=name).observe(result.latency_ms / 1e3)
        self._count_source(source)

    def _retention(self) -> None:
        cfg = self.cfg
        removed = enforce_retention(cfg.out, max_age_s=cfg.retention_hours * 3600,
                                    max_bytes=cfg.retention_mb * 1e6)
        if removed:
            log.info("%s: retention removed %d old files", cfg.name, len(removed))
