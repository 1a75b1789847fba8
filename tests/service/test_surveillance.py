"""The service's surveillance outputs wired together: a looping file camera with zones, a real Mosquitto
receiving its fractions and rule events, the live page and preview on the service's own HTTP server, and the
zones in its stats lines. The broker is killed mid-run and restarted: segmentation goes on, the publisher
reconnects, and what it could not send is counted."""

import json
import socket
import threading
import time
import urllib.request

import pytest
from mosquitto_broker import MosquittoBroker, Subscriber

from edgeseg.service.config import parse_config
from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def test_zones_mqtt_and_live_view_from_a_running_service(tmp_path, bundle_dir, clip):
    pytest.importorskip("paho")
    port = _free_port()
    (tmp_path / "zones.toml").write_text("[zones.left]\nnormalized = true\n"
                                         "points = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n")
    classes = json.loads((bundle_dir / "manifest.json").read_text())["classes"]
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "keyframe_interval": 5, "loop": True,
                     "realtime": True, "overlay": False, "stats": True, "segment_seconds": 1},
        "cameras": {"a": {"uri": str(clip.path), "zones": "zones.toml"}},
        "metrics": {"port": 0}, "service": {"health_interval_s": 0.1},
        "mqtt": {"url": f"mqtt://127.0.0.1:{port}", "rate_hz": 5,
                 "rules": [{"name": "any", "zone": "left", "class": classes[0], "above": 0.0, "for_s": 0.2}]},
    }, path=tmp_path / "s.toml")
    with MosquittoBroker(port, tmp_path) as broker:
        sub = Subscriber(port, "edgeseg/#")
        svc = Service(cfg, notifier=Notifier(None))
        runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
        runner.start()
        try:
            assert sub.wait_for(lambda: len(sub.on("edgeseg/a/fractions")) >= 3, timeout=60)
            assert sub.wait_for(lambda: sub.on("edgeseg/a/events"), timeout=30)
            url = svc.server.url
            code, ctype, page = _get(url + "/")
            assert code == 200 and "text/html" in ctype and b"/cameras/a/" in page
            code, ctype, jpeg = _get(url + "/cameras/a/frame.jpg")
            assert code == 200 and ctype == "image/jpeg" and jpeg[:2] == b"\xff\xd8"
            broker.kill()
            frames = svc.workers["a"].frames
            time.sleep(1.5)
            assert svc.workers["a"].frames > frames  # segmentation went on without the broker
            broker.start()
            before = len(sub.messages)
            assert sub.wait_for(lambda: len(sub.on("edgeseg/a/fractions")) > 0 and len(sub.messages) > before,
                                timeout=60)
            mqtt = svc.mqtt
            reconnects, dropped = mqtt.reconnects, mqtt.dropped + mqtt.connect_failures
        finally:
            svc.request_stop()
            runner.join(timeout=30)
            sub.close()
    message = sub.on("edgeseg/a/fractions")[0]
    assert set(message["class_fraction"]) == set(classes) and set(message["zones"]) == {"left"}
    assert abs(sum(message["zones"]["left"].values()) - 1) < 1e-3
    event = sub.on("edgeseg/a/events")[0]
    assert event["rule"] == "any" and event["state"] == "on" and event["zone"] == "left"
    assert reconnects >= 1 and dropped >= 1
    lines = [json.loads(x) for p in sorted((tmp_path / "out" / "a").glob("*.jsonl")) for x in p.read_text().splitlines()]
    assert lines and all(set(x["zones"]) == {"left"} for x in lines)
    assert not runner.is_alive()
