"""A file camera that has ended says so in /healthz and in the metrics (it is no longer a healthy camera)."""

import json
import threading
import time
import urllib.request

from edgeseg.service.config import parse_config
from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


def test_an_ended_file_is_reported_as_ended(tmp_path, bundle_dir, clip):
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "overlay": True, "stats": True},
        "cameras": {"a": {"uri": str(clip.path)}},
        "metrics": {"port": 0}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    svc = Service(cfg, notifier=Notifier(None))
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    runner.start()
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and not (svc.workers and svc.workers["a"].state == "finished"):
            time.sleep(0.05)
        time.sleep(0.5)  # a few health ticks: the gauge follows the state
        with urllib.request.urlopen(f"{svc.server.url}/healthz") as r:
            code, health = r.status, json.loads(r.read())
        with urllib.request.urlopen(f"{svc.server.url}/metrics") as r:
            metrics = r.read().decode()
    finally:
        svc.request_stop()
        runner.join(timeout=30)
    assert code == 200 and health["healthy"] is True  # nothing to restart: the watchdog stays fed
    cam = health["cameras"]["a"]
    assert cam["ended"] is True and cam["healthy"] is False and cam["frames"] == clip.frames
    assert 'edgeseg_ended{camera="a"} 1.0' in metrics
    assert not runner.is_alive()
