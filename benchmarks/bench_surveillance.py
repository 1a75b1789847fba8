"""What the live view and MQTT cost a camera of `edgeseg serve`: its throughput with neither, and with a viewer
watching its preview and a broker receiving its fractions, in paired rounds; and the frame → MQTT latency.

    python benchmarks/bench_surveillance.py --clip CLIP [--seconds 15] [--rounds 3] [--json OUT]

One camera loops CLIP as fast as it can (no pacing: its capacity), mode interp, K = 10, stats on, overlays
off; zones from a two-zone file (left and right halves). "outputs" adds `[mqtt]` against a real Mosquitto on
127.0.0.1 (Debian's `mosquitto`; rate_hz 5, one rule) and a viewer reading /cameras/cam/preview (MJPEG) all
along. Rounds alternate the order. Reported: fps per configuration (median), the ratio (target ≥ 0.9), and the
publisher's p50/p95 latency from a result to its message handed to the broker.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from edgeseg.service.config import parse_config  # noqa: E402
from edgeseg.service.notify import Notifier  # noqa: E402
from edgeseg.service.service import Service  # noqa: E402

ZONES = ("[zones.left]\nnormalized = true\npoints = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n"
         "[zones.right]\nnormalized = true\npoints = [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _viewer(url: str, stop: threading.Event) -> None:
    """Read the MJPEG preview until stopped (a browser tab left open)."""
    with urllib.request.urlopen(url, timeout=30) as r:
        while not stop.is_set() and r.read(65536):
            pass


def run_once(clip: str, tmp: Path, seconds: float, broker_port: int | None) -> dict:
    doc = {"model": {"backend": "ort-cpu"},
           "defaults": {"output_dir": str(tmp / "out"), "loop": True, "overlay": False, "stats": True,
                        "segment_seconds": 60},
           "cameras": {"cam": {"uri": clip, "zones": "zones.toml"}},
           "metrics": {"port": 0, "live_view": broker_port is not None}, "service": {"health_interval_s": 0.5}}
    if broker_port is not None:
        doc["mqtt"] = {"url": f"mqtt://127.0.0.1:{broker_port}", "rate_hz": 5,
                       "rules": [{"name": "road", "zone": "left", "class": "road", "above": 0.1, "for_s": 1.0}]}
    svc = Service(parse_config(doc, path=tmp / "s.toml"), notifier=Notifier(None))
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    runner.start()
    stop = threading.Event()
    try:
        while not (svc.workers and svc.workers["cam"].frames > 30):
            time.sleep(0.1)
        if broker_port is not None:
            threading.Thread(target=_viewer, args=(f"{svc.server.url}/cameras/cam/preview", stop), daemon=True).start()
        f0, t0 = svc.workers["cam"].frames, time.monotonic()
        time.sleep(seconds)
        fps = (svc.workers["cam"].frames - f0) / (time.monotonic() - t0)
        extra = {}
        if svc.mqtt is not None:
            q = svc.mqtt.latency_quantiles()
            extra = {"mqtt_sent": svc.mqtt.sent, "mqtt_dropped": svc.mqtt.dropped,
                     "latency_p50_ms": (q["p50"] or 0.0) * 1e3, "latency_p95_ms": (q["p95"] or 0.0) * 1e3,
                     "preview_encodes": svc.hub.encodes}
    finally:
        stop.set()
        svc.request_stop()
        runner.join(timeout=30)
    return {"fps": fps, **extra}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", required=True)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    from mosquitto_broker import MosquittoBroker

    from edgeseg.cli.warmup import compile_first

    compile_first(lambda text: print(text, file=sys.stderr))
    results: dict[str, list[dict]] = {"none": [], "outputs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "zones.toml").write_text(ZONES)
        port = _free_port()
        with MosquittoBroker(port, tmp):
            for r in range(a.rounds):
                for config in (("none", "outputs") if r % 2 == 0 else ("outputs", "none")):
                    res = run_once(a.clip, tmp, a.seconds, port if config == "outputs" else None)
                    results[config].append(res)
                    print(f"round {r + 1} {config}: {res}", file=sys.stderr)
    med = {c: statistics.median(x["fps"] for x in v) for c, v in results.items()}
    ratios = [o["fps"] / n["fps"] for o, n in zip(results["outputs"], results["none"], strict=True)]
    lat = [x["latency_p95_ms"] for x in results["outputs"]]
    print(f"fps without: {med['none']:.1f}, with a viewer and MQTT: {med['outputs']:.1f}, "
          f"ratio (median of rounds) {statistics.median(ratios):.3f} ({', '.join(f'{x:.3f}' for x in ratios)}); "
          f"frame → MQTT p95 {statistics.median(lat):.2f} ms (rounds: {', '.join(f'{x:.2f}' for x in lat)})")
    if a.json:
        Path(a.json).write_text(json.dumps({"results": results, "median_fps": med, "ratios": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
