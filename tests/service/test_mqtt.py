"""MQTT publishing against a real Mosquitto broker on 127.0.0.1: message content, rule events firing and clearing,
the broker killed and restarted mid-run (publishing goes on without blocking, the client reconnects, drops are
counted), a broker absent at start; [mqtt] validation; the Prometheus export of the counters."""

from __future__ import annotations

import time

import numpy as np
import pytest
from mosquitto_broker import MosquittoBroker, Subscriber, wait_port

from edgeseg.errors import ConfigError
from edgeseg.pipeline.result import Result
from edgeseg.service.mqtt import MqttCounters, quantiles, register_mqtt_metrics
from edgeseg.service.mqttconfig import parse_mqtt, parse_url
from edgeseg.sink.zones import load_zones
from edgeseg.source.frame import Frame

CLASSES = ["road", "car", "person"]
RULE = {"name": "person_at_door", "zone": "door", "class": "person", "above": 0.1, "for_s": 0.3}


def _result(i: int, fps: float, person: bool) -> Result:
    """96×64: road, a car strip (top right 48×8), and with `person` a person strip over the left 12 columns."""
    labels = np.zeros((64, 96), np.uint8)
    labels[:8, 48:] = 1
    if person:
        labels[:, :12] = 2
    image = np.full((64, 96, 3), i % 256, np.uint8)
    return Result(Frame(i, i / fps, "P", image), labels, i % 10 == 0, 5.0)


def _feed(pub, start: int, seconds: float, *, fps: float = 25.0, person=lambda i: False) -> list[float]:
    """Offer frames start, start+1, … paced at fps for `seconds` (the test thread plays the camera thread);
    returns each offer()'s duration."""
    took, t_start, n = [], time.monotonic(), round(seconds * fps)
    for k in range(n):
        i = start + k
        res = _result(i, fps, person(i))
        t0 = time.perf_counter()
        pub.offer("gate", res)
        took.append(time.perf_counter() - t0)
        time.sleep(max(0.0, t_start + (k + 1) / fps - time.monotonic()))
    return took


@pytest.fixture
def zones(tmp_path):
    p = tmp_path / "zones.toml"
    p.write_text("[zones.door]\nnormalized = true\npoints = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n")
    return load_zones(p)


def _publisher(port, zones, **cfg):
    pytest.importorskip("paho", reason="needs the mqtt extra (paho-mqtt)")
    from edgeseg.service.mqtt import MqttPublisher

    return MqttPublisher(parse_mqtt({"url": f"mqtt://127.0.0.1:{port}", **cfg}), classes=CLASSES,
                         zones={"gate": zones})


def _wait(pred, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pred()


def test_fractions_and_rule_events_reach_a_real_broker(port, tmp_path, zones):
    pub = _publisher(port, zones, rate_hz=5, rules=[RULE])
    with MosquittoBroker(port, tmp_path):
        sub = Subscriber(port, "edgeseg/#")
        pub.start()
        try:
            assert _wait(lambda: pub.connected)
            _feed(pub, 0, 3.0, person=lambda i: 25 <= i < 50)  # a person in the door from 1 s to 2 s
            assert sub.wait_for(lambda: len(sub.on("edgeseg/gate/events")) >= 2, timeout=5)
        finally:
            pub.close()
            sub.close()
    events = sub.on("edgeseg/gate/events")
    assert [(e["rule"], e["state"], e["camera"], e["zone"], e["class"]) for e in events] == [
        ("person_at_door", "on", "gate", "door", "person"), ("person_at_door", "off", "gate", "door", "person")]
    assert events[0]["value"] == 0.25 and events[1]["value"] == 0.0
    assert 1.25 <= events[0]["pts"] <= 1.8 and 2.25 <= events[1]["pts"] <= 2.8, events  # for_s 0.3 after 1 s, 2 s
    fr = sub.on("edgeseg/gate/fractions")
    assert 14 <= len(fr) <= 16, [m["frame"] for m in fr]  # 5 Hz for 3 s
    assert set(fr[0]) == {"frame", "pts", "time", "class_fraction", "zones"}
    assert abs(fr[0]["time"] - time.time()) < 30
    by_person = {25 <= m["frame"] < 50: m for m in fr}
    # by hand: car 48×8 of 96×64 = 0.0625; person 12×64 → 0.125 of the frame, 0.25 of the door (48×64)
    assert by_person[True]["class_fraction"] == {"road": 0.8125, "car": 0.0625, "person": 0.125}
    assert by_person[True]["zones"] == {"door": {"road": 0.75, "car": 0.0, "person": 0.25}}
    assert by_person[False]["class_fraction"] == {"road": 0.9375, "car": 0.0625, "person": 0.0}
    assert by_person[False]["zones"] == {"door": {"road": 1.0, "car": 0.0, "person": 0.0}}
    lat = pub.latency_quantiles()
    assert pub.sent == len(fr) + 2 and pub.dropped == 0 and pub.reconnects == 0
    assert lat["p95"] is not None and lat["p95"] < 0.5, lat
    print(f"\nframe→MQTT latency: p50 {lat['p50'] * 1e3:.2f} ms, p95 {lat['p95'] * 1e3:.2f} ms "
          f"({len(pub.latencies)} messages)")


def test_broker_killed_and_restarted_mid_run(port, tmp_path, zones):
    # the publisher retries after 1-2 s, the subscriber after 0.1-0.5 s: it is back before the outbox is sent
    pub = _publisher(port, zones, rate_hz=10, queue_size=5, reconnect_min_s=1, reconnect_max_s=2)
    broker = MosquittoBroker(port, tmp_path)
    broker.start()
    sub = Subscriber(port, "edgeseg/#")
    pub.start()
    try:
        assert _wait(lambda: pub.connected)
        took = _feed(pub, 0, 1.0)
        assert sub.wait_for(lambda: len(sub.messages) >= 5)
        broker.kill()
        assert _wait(lambda: not pub.connected, timeout=5)
        t0 = time.perf_counter()
        for k in range(200):  # a burst while the broker is away: each returns at once, the outbox stays bounded
            pub.publish("gate", "fractions", {"burst": k})
        burst_s = time.perf_counter() - t0
        took += _feed(pub, 25, 2.0)  # frames 25-74 while the broker is down
        assert pub.queued == 5 and pub.dropped >= 200
        broker.start()
        assert _wait(lambda: pub.connected, timeout=10), "the publisher did not reconnect"
        took += _feed(pub, 75, 1.0)
        assert sub.wait_for(lambda: any(m.get("frame", 0) >= 95 for m in sub.on("edgeseg/gate/fractions")))
    finally:
        pub.close()
        sub.close()
        broker.kill()
    frames = [m["frame"] for m in sub.on("edgeseg/gate/fractions") if "frame" in m]
    assert any(f < 25 for f in frames) and any(f >= 75 for f in frames)
    assert any(25 <= f < 75 for f in frames), frames  # the outbox kept the newest ones through the outage
    assert not any("burst" in m for m in sub.on("edgeseg/gate/fractions"))  # the oldest went first
    assert pub.reconnects == 1 and pub.connect_failures >= 1
    assert burst_s < 0.2, burst_s  # 200 publish() calls
    assert np.median(took) < 1e-3 and max(took) < 0.05, (np.median(took), max(took))


def test_broker_absent_at_start_is_retried_not_an_error(port, tmp_path, zones):
    pub = _publisher(port, zones, rate_hz=10, reconnect_min_s=0.2, reconnect_max_s=0.5)
    assert wait_port(port, up=False, timeout=1)
    pub.start()
    try:
        _feed(pub, 0, 1.0)
        assert not pub.connected and pub.connect_failures >= 1 and pub.sent == 0 and pub.queued > 0
        with MosquittoBroker(port, tmp_path):
            sub = Subscriber(port, "edgeseg/#")
            assert _wait(lambda: pub.connected, timeout=10)
            _feed(pub, 25, 0.5)
            assert sub.wait_for(lambda: len(sub.on("edgeseg/gate/fractions")) >= 3)
            sub.close()
    finally:
        pub.close()
    assert pub.reconnects == 0  # the first connection is not a reconnection


BAD = [
    ({"url": "http://127.0.0.1:1883"}, "mqtt.url: must be mqtt://HOST[:PORT] (got 'http://127.0.0.1:1883')"),
    ({"url": "mqtt://:1883"}, "mqtt.url: must be mqtt://HOST[:PORT]"),
    ({"url": "mqtt://host:99999"}, "mqtt.url: must be mqtt://HOST[:PORT]"),
    ({"url": "mqtt://host:1883/x"}, "mqtt.url: must be mqtt://HOST[:PORT]"),
    ({"url": 1883}, "mqtt.url: must be mqtt://HOST[:PORT] (got 1883)"),
    ({}, "mqtt.url: missing"),
    ({"url": "mqtt://h", "topic_prefix": "a/#"}, "mqtt.topic_prefix: must be a topic without +, #"),
    ({"url": "mqtt://h", "topic_prefix": "/a"}, "mqtt.topic_prefix: must be a topic"),
    ({"url": "mqtt://h", "rate_hz": 0}, "mqtt.rate_hz: must be a number in (0, 100] (got 0)"),
    ({"url": "mqtt://h", "queue_size": 1.5}, "mqtt.queue_size: must be an integer"),
    ({"url": "mqtt://h", "reconnect_min_s": 5, "reconnect_max_s": 2}, "mqtt.reconnect_min_s: exceeds"),
    ({"url": "mqtt://h", "qos": 1}, "mqtt.qos: unknown key"),
    ({"url": "mqtt://h", "rules": [{"name": "r", "class": "car"}]}, "mqtt.rules.r.above: missing"),
]


@pytest.mark.parametrize("table,message", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_bad_mqtt_table_is_one_line_naming_the_key(table, message):
    with pytest.raises(ConfigError) as err:
        parse_mqtt(table, where="edgeseg.toml: ")
    assert str(err.value).startswith(f"edgeseg.toml: {message}"), str(err.value)


def test_url_and_defaults():
    assert parse_url("mqtt://broker.lan") == ("broker.lan", 1883)
    assert parse_url("mqtt://10.0.0.2:8883/") == ("10.0.0.2", 8883)
    cfg = parse_mqtt({"url": "mqtt://[::1]:1884", "topic_prefix": "site1/edgeseg"})
    assert (cfg.host, cfg.port, cfg.topic_prefix, cfg.rate_hz, cfg.rules) == ("::1", 1884, "site1/edgeseg", 1.0, ())
    assert parse_mqtt({"url": "mqtt://h"}).topic_prefix == "edgeseg"


def test_quantiles_and_prometheus_export():
    assert quantiles([]) == {"p50": None, "p95": None}
    assert quantiles(range(1, 101)) == {"p50": 51, "p95": 96}
    from edgeseg.service.metrics import ServiceMetrics

    m, c = ServiceMetrics(), MqttCounters()
    register_mqtt_metrics(m.registry, c)
    c.sent, c.dropped, c.reconnects, c.connected = 7, 3, 2, True
    c._latency(0.02)
    text = m.exposition().decode()
    for line in ("edgeseg_mqtt_sent_total 7.0", "edgeseg_mqtt_dropped_total 3.0", "edgeseg_mqtt_reconnects_total 2.0",
                 "edgeseg_mqtt_connected 1.0", "edgeseg_mqtt_queued 0.0", 'edgeseg_mqtt_latency_seconds_bucket{le="0.025"} 1.0'):
        assert line in text, text
