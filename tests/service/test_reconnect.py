"""RTSP loss: the server is killed mid-stream and started again on its port; the camera reconnects (counted),
with backoff, while a file camera beside it keeps going. A camera missing at start comes up when it appears."""

import json
import shutil
import threading
import time
import urllib.error
import urllib.request

from running_service import wait_until

from edgeseg.service.config import parse_config
from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


def test_rtsp_killed_and_restarted_reconnects_and_missing_camera_is_retried(tmp_path, bundle_dir, clip, port,
                                                                              any_rtsp_server_class):
    rtsp_server_class = any_rtsp_server_class
    late = tmp_path / "late.mp4"
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "keyframe_interval": 5,
                     "timeout_s": 2, "reconnect_min_s": 0.2, "reconnect_max_s": 0.8},
        "cameras": {"door": {"uri": f"rtsp://127.0.0.1:{port}/clip"},
                    "file": {"uri": str(clip.path), "loop": True, "realtime": True},
                    "late": {"uri": str(late)}},
        "metrics": {"port": 0}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    svc = Service(cfg, notifier=Notifier(None))
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    server = rtsp_server_class(clip.path, port=port, fps=25)  # 40 frames: 1.6 s per play
    server.__enter__()
    runner.start()
    try:
        assert wait_until(lambda: svc.workers and svc.workers["door"].frames >= 5, timeout=20)
        door, file_cam = svc.workers["door"], svc.workers["file"]
        server.__exit__(None, None, None)  # kill the server mid-stream
        assert wait_until(lambda: door.state == "waiting" and door.failures >= 2, timeout=15)
        frames_down, file_before = door.frames, file_cam.frames
        assert wait_until(lambda: file_cam.frames > file_before + 5, timeout=20)  # the other camera never stalls
        server = rtsp_server_class(clip.path, port=port, fps=50)
        server.__enter__()
        assert wait_until(lambda: door.reconnects >= 1 and door.frames > frames_down + 5, timeout=15)
        shutil.copy(clip.path, late)  # the missing camera appears
        assert wait_until(lambda: svc.workers["late"].frames > 0, timeout=15)
        body = urllib.request.urlopen(f"{svc.server.url}/metrics", timeout=5).read().decode()
        reconnects = [ln for ln in body.splitlines() if ln.startswith('edgeseg_reconnects_total{camera="door"}')]
        assert reconnects and float(reconnects[0].split()[-1]) >= 1
        assert 'edgeseg_frames_total{camera="file"}' in body
        ok, detail = svc.health()
        assert ok and detail["door"]["reconnects"] >= 1
    finally:
        svc.request_stop()
        runner.join(timeout=15)
        server.__exit__(None, None, None)
    assert not runner.is_alive()
    stats = sorted((tmp_path / "out" / "door").glob("*.jsonl"))
    connections = {json.loads(x)["connection"] for p in stats for x in p.read_text().splitlines()}
    assert len(connections) >= 2  # stats lines say which connection they came from


class _Stalling(list):
    """Access units that run dry after `after` frames without ending the stream."""

    def __init__(self, items, *, after):
        super().__init__(items)
        self.after, self.release = after, threading.Event()

    def __iter__(self):
        yield from list.__iter__(self[: self.after])
        self.release.wait(60)


def test_a_stalled_stream_stops_watchdog_pings_and_fails_health(tmp_path, bundle_dir, clip, port,
                                                               rtsp_server_class):
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "n.sock"))
    sock.setblocking(False)
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "timeout_s": 30},
        "cameras": {"slow": {"uri": f"rtsp://127.0.0.1:{port}/clip"}},
        "metrics": {"port": 0}, "service": {"health_interval_s": 0.1, "stall_seconds": 0.8}}, path=tmp_path / "s.toml")
    svc = Service(cfg, notifier=Notifier(str(tmp_path / "n.sock")))
    server = rtsp_server_class(clip.path, port=port, fps=25)
    server.aus = _Stalling(server.aus, after=36)  # 36 frames, then the connection stays open and silent
    server.__enter__()
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    runner.start()

    def received():
        out = []
        while True:
            try:
                out.append(sock.recv(4096).decode())
            except BlockingIOError:
                return out

    try:
        assert wait_until(lambda: svc.ready and svc.workers["slow"].frames > 0, timeout=15)
        received()
        assert wait_until(lambda: not svc.health()[0], timeout=10)
        received()
        time.sleep(0.5)
        assert "WATCHDOG=1" not in received()  # stalled: no pings
        code = None
        try:
            urllib.request.urlopen(f"{svc.server.url}/healthz", timeout=5)
        except urllib.error.HTTPError as exc:
            code, body = exc.code, json.loads(exc.read())
        assert code == 503 and body["healthy"] is False and body["cameras"]["slow"]["state"] == "running"
    finally:
        server.aus.release.set()
        svc.request_stop()
        runner.join(timeout=15)
        server.__exit__(None, None, None)
        sock.close()
    assert not runner.is_alive()
