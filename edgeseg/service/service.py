"""The `edgeseg serve` process: one shared model, one worker per camera, health loop, signals, systemd.

Usage::

    code = Service(load_config("edgeseg.toml")).run()   # blocks until SIGTERM/SIGINT; SIGHUP reloads

Health loop (every service.health_interval_s): fps gauges, READY=1 once every camera made its first attempt,
WATCHDOG=1 only while every stream makes progress (a camera in reconnect backoff counts as progressing:
restarting the process would not bring it back), STOPPING=1 on exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from edgeseg.errors import ConfigError, EdgesegError
from edgeseg.service.camera import CameraWorker
from edgeseg.service.config import ServiceConfig, camera_changed, load_config
from edgeseg.service.metrics import NullMetrics
from edgeseg.service.notify import Notifier

log = logging.getLogger("edgeseg.service")


class Service:
    """Runs the cameras of a config until stopped. nets: edgeseg.backend.Networks (tests); default: opened from [model]."""

    def __init__(self, config: ServiceConfig, *, notifier: Notifier | None = None, nets=None, bundle=None):
        self.config = config
        self.notifier = notifier or Notifier.from_env()
        self._nets, self._bundle = nets, bundle
        self.workers: dict[str, CameraWorker] = {}
        self.metrics = NullMetrics()  # ServiceMetrics when [metrics] is enabled
        self.server = None
        self.shared = None
        self.hub = None  # the live view's previews (edgeseg.service.liveview), when [metrics] live_view
        self.mqtt = None  # the MQTT publisher (edgeseg.service.mqtt), when [mqtt]
        self.ready = False
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self._last_frames: dict[str, tuple[int, float]] = {}
        self.signal_name: str | None = None
        self._was_healthy = True

    # -- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Metrics port first (fails fast), then the model, then one worker per camera."""
        from edgeseg.backend.networks import open_networks
        from edgeseg.service.batcher import BatchingNetworks

        cfg = self.config
        if cfg.metrics.enabled:
            from edgeseg.service.metrics import MetricsServer, ServiceMetrics

            self.metrics = ServiceMetrics()
            self.server = MetricsServer(self.metrics, health=self.health, host=cfg.metrics.host,
                                        port=cfg.metrics.port)
            log.info("metrics on %s/metrics, health on %s/healthz", self.server.url, self.server.url)
        if self._nets is None:
            self._nets, self._bundle = open_networks(cfg.model.bundle, backend=cfg.model.backend,
                                                     threads=cfg.model.threads)
            if cfg.model.bundle is None:
                from edgeseg.system.info import reference_model_note

                log.warning("%s Set [model] bundle in the config.", reference_model_note())
        backend = getattr(self._nets, "backend", None)  # open_networks' (an edgeseg.backend.Backend)
        log.info("model %s on %s; %d cameras", getattr(self._bundle, "path", "?"),
                 getattr(backend, "name", type(self._nets).__name__), len(cfg.cameras))
        batches = backend is None or backend.kind.batches  # a kind whose networks take one image per call: 1
        m = self.metrics
        self.shared = BatchingNetworks(
            self._nets, max_batch=cfg.model.max_batch if batches else 1, wait_s=cfg.model.batch_wait_ms / 1e3,
            on_batch=lambda n, s: (m.batch_size.observe(n), m.feature_seconds.observe(s)),
            on_task=m.task_seconds.observe)
        self._start_outputs()
        for cam in cfg.cameras.values():
            self._start_camera(cam)

    def _start_outputs(self) -> None:
        """The service-wide outputs that every camera feeds: the live view's previews and MQTT."""
        cfg, bundle = self.config, self._bundle
        if cfg.metrics.enabled and cfg.metrics.live_view:
            from edgeseg.service.liveview import LiveView, PreviewHub

            self.hub = PreviewHub(palette=bundle.palette, classes=bundle.classes,
                                  max_width=cfg.metrics.preview_width, max_fps=cfg.metrics.preview_fps)
            self.server.live = LiveView(self.hub, health=self.health, token=cfg.metrics.token)
            log.info("live view on %s/", self.server.url)
        if cfg.mqtt is not None:
            from edgeseg.service.mqtt import MqttPublisher, register_mqtt_metrics
            from edgeseg.service.rules import check_rules

            zones = {n: c.zones for n, c in cfg.cameras.items()}
            check_rules(cfg.mqtt.rules, classes=bundle.classes, where=f"{cfg.path}: ",
                        zones={n: (z.names if z else []) for n, z in zones.items()})
            self.mqtt = MqttPublisher(cfg.mqtt, classes=bundle.classes, zones=zones)
            if hasattr(self.metrics, "registry"):
                register_mqtt_metrics(self.metrics.registry, self.mqtt)
            self.mqtt.start()

    def _start_camera(self, cam) -> None:
        taps = [x for x in (self.hub, self.mqtt) if x is not None]
        for tap in taps:
            tap.add_camera(cam.name, zones=cam.zones)
        w = CameraWorker(cam, shared=self.shared, bundle=self._bundle, metrics=self.metrics,
                         taps=[t.offer for t in taps])
        self.workers[cam.name] = w
        w.start()
        self.metrics.cameras.set(len(self.workers))

    def _stop_camera(self, name: str, timeout: float) -> None:
        w = self.workers.pop(name)
        w.stop()
        if not w.join(timeout):
            log.warning("%s: did not stop within %.1f s (blocked in a read)", name, timeout)
        self.metrics.forget(name)
        self.metrics.cameras.set(len(self.workers))
        self._last_frames.pop(name, None)
        for tap in (self.hub, self.mqtt):
            if tap is not None:
                tap.remove_camera(name)

    def request_stop(self, name: str = "") -> None:
        self.signal_name = self.signal_name or name or None
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        self._reload.set()
        self._wake.set()

    def run(self, *, handle_signals: bool = True) -> int:
        """Start, then run the health loop until a stop is requested; returns the exit code (0)."""
        old = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            def on_stop(signum, _f):
                self.request_stop(signal.Signals(signum).name)

            old = {signal.SIGTERM: signal.signal(signal.SIGTERM, on_stop),
                   signal.SIGINT: signal.signal(signal.SIGINT, on_stop),
                   signal.SIGHUP: signal.signal(signal.SIGHUP, lambda *_: self.request_reload())}
        try:
            self.start()
            self._health_loop()
        finally:
            self.shutdown()
            for s, h in old.items():
                signal.signal(s, h)
        return 0

    def shutdown(self) -> None:
        """Flush every stream (bounded by service.stop_timeout_s), then close the shared model and metrics."""
        if self.shared is None:  # start() failed before any camera ran: the caller reports why
            if self.server is not None:
                self.server.close()
            return
        self.notifier.stopping()
        deadline = time.monotonic() + self.config.service.stop_timeout_s
        for w in self.workers.values():
            w.stop()
        for name, w in list(self.workers.items()):
            if not w.join(max(0.0, deadline - time.monotonic())):
                log.warning("%s: not flushed within the stop timeout", name)
        if self.shared is not None:
            self.shared.close()
        for tap in (self.mqtt, self.hub):
            if tap is not None:
                tap.close()
        if self.server is not None:
            self.server.close()
        log.info("stopped%s", f" ({self.signal_name})" if self.signal_name else "")

    # -- health -----------------------------------------------------------------------------------------
    def health(self) -> tuple[bool, dict]:
        """(every stream progressing, per camera: its status, "ended" and its own "healthy").

        A file that has ended is no fault of the box (restarting would not help: the service stays healthy,
        the watchdog keeps being fed) but the camera segments nothing more: it says ended, not healthy."""
        stall = self.config.service.stall_seconds
        detail = {}
        for name, w in list(self.workers.items()):
            ended = w.state == "finished"
            detail[name] = {**w.status(), "ended": ended, "healthy": w.progressing(stall) and not ended}
        ok = all(w.progressing(stall) for w in list(self.workers.values()))
        return ok, detail

    def _health_loop(self) -> None:
        opts = self.config.service
        tick = opts.health_interval_s
        if self.notifier.watchdog_s:
            tick = min(tick, self.notifier.watchdog_s / 2)
        while not self._stop.is_set():
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            ok, _ = self.health()
            self._update_rates()
            self.metrics.healthy.set(1 if ok else 0)
            if not self.ready and all(w.attempted.is_set() or not w.alive for w in self.workers.values()):
                self.ready = True
                self.notifier.ready(self._status_line())
                log.info("ready: %s", self._status_line())
            if self.ready:
                if ok:
                    self.notifier.watchdog()
                if ok != self._was_healthy:  # log transitions, not every tick
                    log.log(logging.INFO if ok else logging.WARNING, "%s: %s",
                            "healthy again" if ok else "not healthy (watchdog pings withheld)", self._status_line())
                    self._was_healthy = ok
                self.notifier.status(self._status_line())
            self._wake.wait(tick)
            self._wake.clear()

    def _update_rates(self) -> None:
        now = time.monotonic()
        for name, w in list(self.workers.items()):
            frames, t = self._last_frames.get(name, (0, now))
            if now > t:
                self.metrics.fps.labels(camera=name).set((w.frames - frames) / (now - t))
                self.metrics.ended.labels(camera=name).set(1 if w.state == "finished" else 0)
            self._last_frames[name] = (w.frames, now)

    def _status_line(self) -> str:
        return ", ".join(f"{n}: {w.state} {w.frames} frames" for n, w in self.workers.items())

    # -- reload -----------------------------------------------------------------------------------------
    def reload(self) -> None:
        """SIGHUP: read the config again; start added cameras, stop removed ones, restart changed ones.

        Unchanged cameras keep running. A bad file is logged and ignored (the old config stays).
        """
        log.info("reloading %s", self.config.path)
        try:
            new = load_config(self.config.path)
        except ConfigError as exc:
            log.error("reload ignored: %s", exc)
            return
        old = self.config
        if new.model != old.model or new.metrics != old.metrics or new.mqtt != old.mqtt:
            log.warning("reload: [model], [metrics] and [mqtt] changes need a restart; applying camera changes only")
        timeout = old.service.stop_timeout_s
        for name in [n for n in old.cameras if n not in new.cameras]:
            log.info("reload: removing camera %s", name)
            self._stop_camera(name, timeout)
        for name, cam in new.cameras.items():
            if name in self.workers and name in old.cameras and not camera_changed(old.cameras[name], cam):
                continue
            if name in self.workers:
                log.info("reload: restarting camera %s (changed)", name)
                self._stop_camera(name, timeout)
            else:
                log.info("reload: adding camera %s", name)
            try:
                self._start_camera(cam)
            except EdgesegError as exc:
                log.error("reload: camera %s: %s", name, exc)
        self.config = ServiceConfig(path=new.path, model=old.model, cameras=new.cameras, metrics=old.metrics,
                                    service=new.service, mqtt=old.mqtt)
