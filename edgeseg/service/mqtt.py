"""MQTT publishing of class/zone fractions and rule events, off the segmentation threads (paho-mqtt, `mqtt` extra).

Usage::

    cfg = parse_mqtt({"url": "mqtt://127.0.0.1:1883", "rules": [...]}, where="edgeseg.toml: ")
    pub = MqttPublisher(cfg, classes=bundle.classes, zones={"gate": load_zones("zones.toml")})
    pub.start()                      # connects in the background; an absent broker is retried, not an error
    pub.offer("gate", result)        # per frame, camera thread: O(1), never blocks, never touches the network
    pub.close()                      # sends what it can within a second, disconnects

Topics: PREFIX/CAMERA/fractions (JSON {frame, pts, time, class_fraction, zones}) at `rate_hz` per camera,
QoS 0; PREFIX/CAMERA/events (rule events, edgeseg.service.rules) as they happen, QoS 1. One background thread
computes fractions (on the sampled labels the stats line uses), feeds the rules and hands messages to paho,
whose own thread sends them and reconnects with backoff. Messages wait in a bounded outbox while the broker
is away; when it is full the oldest fractions message goes first (counted in `dropped`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

from edgeseg.errors import EdgesegError
from edgeseg.service.mqttconfig import MqttConfig, parse_mqtt, parse_url  # noqa: F401 - the [mqtt] table
from edgeseg.service.rules import RuleEngine

log = logging.getLogger("edgeseg.service")
RULE_PERIOD_S = 0.1  # cameras with rules are evaluated at most this often (the rules' time resolution)


def quantiles(values, qs=(0.5, 0.95)) -> dict[str, float | None]:
    """{"p50": …, "p95": …} of the values (nearest rank), None each when there are none."""
    ordered = sorted(values)
    out = {}
    for q in qs:
        out[f"p{round(q * 100):d}"] = ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None
    return out


class MqttCounters:
    """What the publisher counts, as attributes (register_mqtt_metrics exports them): sent (handed to the
    broker), dropped (outbox full), connected, reconnects, connect_failures, queued, and the latency from a
    result to its message being written to the broker's socket (or acknowledged, QoS 1)."""

    def __init__(self):
        self.sent = self.dropped = self.reconnects = self.connect_failures = 0
        self.connected = False
        self.latencies: deque[float] = deque(maxlen=4096)  # seconds, the most recent
        self.on_latency = None  # e.g. a Prometheus histogram's observe

    @property
    def queued(self) -> int:
        return 0

    def latency_quantiles(self) -> dict[str, float | None]:
        return quantiles(list(self.latencies))

    def _latency(self, seconds: float) -> None:
        self.latencies.append(seconds)
        if self.on_latency is not None:
            self.on_latency(seconds)


def register_mqtt_metrics(registry, counters: MqttCounters) -> None:
    """edgeseg_mqtt_{sent,dropped,reconnects,connect_failures}_total, edgeseg_mqtt_{connected,queued} and the
    histogram edgeseg_mqtt_latency_seconds, read from `counters` at each scrape."""
    from prometheus_client import Histogram
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from edgeseg.service.metrics import LATENCY_BUCKETS

    class Collector:
        def collect(self):
            c = counters
            for name, text, value in (("sent", "MQTT messages handed to the broker", c.sent),
                                      ("dropped", "MQTT messages dropped (outbox full)", c.dropped),
                                      ("reconnects", "MQTT reconnections after a loss", c.reconnects),
                                      ("connect_failures", "MQTT connection attempts that failed",
                                       c.connect_failures)):
                yield CounterMetricFamily(f"edgeseg_mqtt_{name}", text, value=value)
            yield GaugeMetricFamily("edgeseg_mqtt_connected", "1 while connected to the broker",
                                    value=int(c.connected))
            yield GaugeMetricFamily("edgeseg_mqtt_queued", "MQTT messages waiting in the outbox", value=c.queued)

    registry.register(Collector())
    hist = Histogram("edgeseg_mqtt_latency_seconds", "Result to MQTT message handed to the broker",
                     buckets=LATENCY_BUCKETS, registry=registry)
    counters.on_latency = hist.observe


class _Camera:
    def __init__(self, name: str, rules, zones, classes):
        from edgeseg.sink.zones import ZoneCounter

        self.engine = RuleEngine(rules, camera=name, zones=zones.names if zones else ())
        self.counter = ZoneCounter(zones, classes) if zones else None
        self.next_eval = self.next_send = -1e18  # on a grid of periods, so the rate holds on average

    @staticmethod
    def due(t: float, next_t: float, period: float) -> float | None:
        """The next due time if t is due (next_t + period, or t + period after a gap), else None."""
        if t < next_t:
            return None
        return next_t + period if t - next_t < period else t + period


class MqttPublisher(MqttCounters):
    """Publishes each camera's fractions and rule events; see the module docstring. Thread-safe."""

    def __init__(self, cfg: MqttConfig, *, classes, zones: dict | None = None, clock=time.monotonic):
        super().__init__()
        from edgeseg.system.extras import require

        require("paho", purpose="MQTT publishing ([mqtt])")
        self.cfg, self.classes, self.clock = cfg, list(classes), clock
        self._cams = {n: _Camera(n, cfg.rules, z, self.classes) for n, z in (zones or {}).items()}
        self._pending: dict[str, tuple] = {}  # camera → (result, t, wall time): the latest to evaluate
        self._outbox: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._t0: dict[int, float] = {}  # mid → offer time, until paho reports the message sent
        self._early: dict[int, float] = {}  # mid → sent time, when paho was quicker than publish() returned
        self._mid_lock = threading.Lock()
        self._stop = threading.Event()
        self._ever_connected = False
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._main, name="mqtt", daemon=True)

    def _make_client(self):
        import os
        import socket

        from paho.mqtt import client as mqtt

        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgeseg-{socket.gethostname()}-{os.getpid()}")
        c.reconnect_delay_set(self.cfg.reconnect_min_s, self.cfg.reconnect_max_s)
        c.max_queued_messages_set(self.cfg.queue_size)
        c.on_connect, c.on_disconnect = self._on_connect, self._on_disconnect
        c.on_connect_fail, c.on_publish = self._on_connect_fail, self._on_publish
        return c

    # -- control ----------------------------------------------------------------------------------------
    def start(self) -> None:
        import numpy as np

        from edgeseg.sink.stats import class_fractions

        class_fractions(np.zeros((2, 2), np.uint8), self.classes)  # its kernel compiles now, not at a frame
        self._client.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        self._client.loop_start()  # paho's thread: connects, retries with backoff (first attempt included)
        self._thread.start()

    def close(self, timeout: float = 1.0) -> None:
        """Send what is queued while connected (at most `timeout` s), then disconnect and stop both threads."""
        deadline = time.monotonic() + timeout
        while self.connected and (self._outbox or self._pending) and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()

    def add_camera(self, name: str, zones=None) -> None:
        """A camera (re)configured: its rules start off, its zones are bound at its next frame."""
        with self._cond:
            self._cams[name] = _Camera(name, self.cfg.rules, zones, self.classes)
            self._pending.pop(name, None)

    def remove_camera(self, name: str) -> None:
        with self._cond:
            self._cams.pop(name, None)
            self._pending.pop(name, None)

    @property
    def queued(self) -> int:
        return len(self._outbox)

    # -- producers (camera threads) ---------------------------------------------------------------------
    def offer(self, camera: str, result) -> None:
        """A camera's new result: kept as the camera's latest when it is due for evaluation (rate_hz, or every
        RULE_PERIOD_S with rules), else ignored. No computation, no I/O, no waiting."""
        cam = self._cams.get(camera)
        if cam is None:
            self.add_camera(camera)
            cam = self._cams[camera]
        t = self.clock()
        period = 1.0 / self.cfg.rate_hz
        nxt = cam.due(t, cam.next_eval, min(period, RULE_PERIOD_S) if cam.engine.rules else period)
        if nxt is None:
            return
        cam.next_eval = nxt
        with self._cond:
            self._pending[camera] = (result, t, time.time())
            self._cond.notify()

    def publish(self, camera: str, kind: str, payload: dict, *, qos: int = 0, t0: float | None = None) -> None:
        """Queue one message for PREFIX/CAMERA/KIND; a full outbox drops its oldest QoS 0 message (else its
        oldest). Returns at once."""
        item = (f"{self.cfg.topic_prefix}/{camera}/{kind}", json.dumps(payload).encode(), qos,
                self.clock() if t0 is None else t0)
        with self._cond:
            if len(self._outbox) >= self.cfg.queue_size:
                victim = next((m for m in self._outbox if m[2] == 0), self._outbox[0])
                self._outbox.remove(victim)
                self.dropped += 1
            self._outbox.append(item)
            self._cond.notify()

    # -- the thread -------------------------------------------------------------------------------------
    def _main(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not (self._stop.is_set() or self._pending or (self._outbox and self.connected)):
                    self._cond.wait(0.5)
                work, self._pending = self._pending, {}
            for camera, (result, t, wall) in work.items():
                try:
                    self._evaluate(camera, result, t, wall)
                except EdgesegError as exc:  # a zone beyond this camera's frame: publish without zones
                    log.error("mqtt: %s: %s (its zone fractions are left out)", camera, exc)
                    self._cams[camera].counter = None
                except Exception:  # noqa: BLE001 - the thread must outlive one bad frame
                    log.exception("mqtt: %s: cannot evaluate a result", camera)
            self._drain()

    def _evaluate(self, camera: str, result, t: float, wall: float) -> None:
        from edgeseg.sink.stats import result_fractions

        cam = self._cams.get(camera)
        if cam is None:  # removed meanwhile
            return
        fractions = result_fractions(result, self.classes)
        zones = cam.counter(result) if cam.counter is not None else {}
        frame = {"frame": result.frame.index, "pts": result.frame.pts, "time": round(wall, 3)}
        for event in cam.engine.feed(t, fractions, zones):
            self.publish(camera, "events", {"camera": camera, **event, **frame}, qos=1, t0=t)
        nxt = cam.due(t, cam.next_send, 1.0 / self.cfg.rate_hz)
        if nxt is not None:
            cam.next_send = nxt
            self.publish(camera, "fractions", {**frame, "class_fraction": fractions, "zones": zones}, t0=t)

    def _drain(self) -> None:
        from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_QUEUE_SIZE

        while self.connected and not self._stop.is_set():
            with self._cond:
                if not self._outbox:
                    return
                topic, data, qos, t0 = self._outbox.popleft()
            info = self._client.publish(topic, data, qos=qos)
            if info.rc == MQTT_ERR_NO_CONN and qos == 0:  # lost the connection meanwhile: keep it for later
                with self._cond:
                    self._outbox.appendleft((topic, data, qos, t0))
                return
            if info.rc == MQTT_ERR_QUEUE_SIZE:  # QoS 1 messages unacknowledged up to queue_size: no room
                self.dropped += 1
                continue
            with self._mid_lock:
                done = self._early.pop(info.mid, None)
                if done is None:
                    self._t0[info.mid] = t0
                    if len(self._t0) > 4 * self.cfg.queue_size:  # QoS 0 messages lost with a connection
                        del self._t0[next(iter(self._t0))]
            if done is not None:
                self._latency(done - t0)

    # -- paho's callbacks (its network thread) ----------------------------------------------------------
    def _on_connect(self, _client, _userdata, _flags, reason, _props=None) -> None:
        if reason.is_failure:
            self.connect_failures += 1
            return
        if self._ever_connected:
            self.reconnects += 1
        self._ever_connected = True
        with self._cond:
            self.connected = True
            self._cond.notify()

    def _on_disconnect(self, *_args) -> None:
        self.connected = False

    def _on_connect_fail(self, *_args) -> None:
        self.connect_failures += 1

    def _on_publish(self, _client, _userdata, mid, _reason=None, _props=None) -> None:
        now = self.clock()
        with self._mid_lock:
            t0 = self._t0.pop(mid, None)
            if t0 is None:
                self._early[mid] = now
                while len(self._early) > 4 * self.cfg.queue_size:
                    del self._early[next(iter(self._early))]
        self.sent += 1
        if t0 is not None:
            self._latency(now - t0)
