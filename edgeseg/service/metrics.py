"""Prometheus metrics of the service and its HTTP endpoint (/metrics, /healthz), bound to 127.0.0.1 by default.

Usage::

    m = ServiceMetrics()                       # prometheus-client is imported here, not at module import
    m.frames.labels(camera="front").inc()
    server = MetricsServer(m, health=lambda: (True, {"front": "ok"}), host="127.0.0.1", port=9108)
    server.url  # http://127.0.0.1:9108 ; server.close()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from edgeseg.errors import ConfigError

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """Every metric the service exports, in its own registry. Per camera: label `camera`."""

    def __init__(self):
        from edgeseg.system.extras import require

        require("prometheus_client", purpose="serve's metrics ([metrics] enabled = true)")
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = r = CollectorRegistry()
        cam = ["camera"]
        self.frames = Counter("edgeseg_frames", "Frames segmented", cam, registry=r)
        self.keyframes = Counter("edgeseg_keyframes", "Frames that ran the feature network", cam, registry=r)
        self.fps = Gauge("edgeseg_fps", "Frames per second over the last health interval", cam, registry=r)
        self.keyframe_ratio = Gauge("edgeseg_keyframe_ratio", "Keyframes / frames since start", cam, registry=r)
        self.latency = Histogram("edgeseg_latency_seconds", "Push-to-result latency per frame", cam,
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.decode_errors = Counter("edgeseg_decode_errors", "Damaged frames or packets skipped", cam, registry=r)
        self.dropped = Counter("edgeseg_dropped_frames", "Live frames skipped to keep up (max_lag_s) or lost by the source", cam, registry=r)
        self.reconnects = Counter("edgeseg_reconnects", "Times the source was reopened after a loss", cam,
                                  registry=r)
        self.connected = Gauge("edgeseg_connected", "1 while the source delivers frames", cam, registry=r)
        self.ended = Gauge("edgeseg_ended", "1 once a file source has ended (the camera segments nothing more)",
                           cam, registry=r)
        self.audit = Gauge("edgeseg_audit_agreement", "Pixel agreement of the output with the full model "
                           "at the last audit", cam, registry=r)
        self.audits = Counter("edgeseg_audits", "Full-model audits run", cam, registry=r)
        self.feature_seconds = Histogram("edgeseg_feature_call_seconds", "Feature network call time (a batch)",
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.task_seconds = Histogram("edgeseg_task_call_seconds", "Task network call time",
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("edgeseg_feature_batch_size", "Keyframes per feature call",
                                    buckets=(1, 2, 3, 4, 6, 8, 12, 16), registry=r)
        self.cameras = Gauge("edgeseg_cameras", "Cameras configured", registry=r)
        self.healthy = Gauge("edgeseg_healthy", "1 while every stream makes progress", registry=r)

    def forget(self, camera: str) -> None:
        """Drop a removed camera's series."""
        for m in (self.frames, self.keyframes, self.fps, self.keyframe_ratio, self.latency, self.decode_errors,
                  self.dropped, self.reconnects, self.connected, self.ended, self.audit, self.audits):
            try:
                m.remove(camera)
            except KeyError:
                pass

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _NullSeries:
    """A metric (or one labelled series of it) that records nothing."""

    def labels(self, **_labels) -> _NullSeries:
        return self

    def inc(self, *_args) -> None:
        pass

    def set(self, *_args) -> None:
        pass

    def observe(self, *_args) -> None:
        pass


class NullMetrics:
    """ServiceMetrics' interface recording nothing: the service with `[metrics] enabled = false`, so that its
    workers update metrics without asking whether there are any."""

    _series = _NullSeries()

    def __getattr__(self, name: str) -> _NullSeries:
        return self._series

    def forget(self, camera: str) -> None:
        pass


class MetricsServer:
    """Serves /metrics (Prometheus text) and /healthz (JSON; 200 healthy, 503 not) on a background thread, and
    the live view's page (/) and previews (/cameras/NAME/…) when `live` is set."""

    def __init__(self, metrics: ServiceMetrics, *, health: Callable[[], tuple[bool, dict]],
                 host: str = "127.0.0.1", port: int = 9108):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if outer.live is not None and outer.live.handle(self):  # the live view's page and previews
                    return
                path = self.path.split("?")[0]
                if path == "/metrics":
                    body, ctype, code = outer.metrics.exposition(), "text/plain; version=0.0.4", 200
                elif path in ("/healthz", "/health"):
                    ok, detail = outer.health()
                    body = json.dumps({"healthy": ok, "cameras": detail}).encode()
                    ctype, code = "application/json", 200 if ok else 503
                else:
                    body, ctype, code = b"not found: try /metrics or /healthz\n", "text/plain", 404
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the journal for the service's own lines
                pass

        self.metrics, self.health = metrics, health
        self.live = None  # an edgeseg.service.liveview.LiveView serves / and /cameras/… when set
        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(f"metrics: cannot listen on {host}:{port} ({exc.strerror})") from None
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
