"""The live view on a real HTTP server on 127.0.0.1, fed by two cameras' real frames: the page, status JSON, JPEG
and MJPEG previews fetched with urllib; no work at all while nobody watches; the token; and headless Debian
chromium screenshots of the page (each camera's tile shows a preview, and the previews move)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.pipeline.result import Result
from edgeseg.service.livepage import GAP_PX, HEADER_PX, PREVIEW_PX, TILE_PX
from edgeseg.service.liveview import LiveView, PreviewHub, check_exposure, check_token
from edgeseg.sink.png import read_png
from edgeseg.sink.zones import parse_zones
from edgeseg.source.frame import Frame

CLASSES = ["road", "car", "person"]
PALETTE = [(128, 64, 128), (0, 0, 142), (220, 20, 60)]
H, W = 360, 640


def frame_and_labels(i: int, shade: int) -> Result:
    """A gradient scene with a car box moving right by 9 px a frame; the left fifth is person."""
    y, x = np.mgrid[0:H, 0:W]
    image = np.stack([(x * 255 // W + shade) % 256, y * 255 // H, np.full_like(x, (i * 5) % 256)], -1).astype(np.uint8)
    labels = np.zeros((H, W), np.uint8)
    labels[:, : W // 5] = 2
    left = 140 + (i * 9) % 400
    labels[120:240, left:left + 100] = 1
    image[120:240, left:left + 100] = 250
    return Result(Frame(i, i / 25, "P", image), labels, i % 10 == 0, 3.0)


class Cameras:
    """Two fake cameras offering a new real frame every 40 ms, each from its own thread."""

    def __init__(self, hub):
        self.hub, self.stop, self.frames = hub, threading.Event(), {"gate": 0, "yard": 0}
        self.threads = [threading.Thread(target=self._run, args=(n, s), daemon=True)
                        for n, s in (("gate", 0), ("yard", 128))]
        for t in self.threads:
            t.start()

    def _run(self, name, shade):
        i = 0
        while not self.stop.wait(0.04):
            self.hub.offer(name, frame_and_labels(i, shade))
            self.frames[name] = i = i + 1

    def health(self):
        return True, {n: {"state": "running", "frames": f, "reconnects": 0, "dropped": 0, "healthy": True,
                          "last_error": None} for n, f in self.frames.items()}

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def serve(live):
    """A ThreadingHTTPServer on 127.0.0.1 routing like MetricsServer will: live.handle(self) first, else 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if not live.handle(self):
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def site():
    hub = PreviewHub(palette=PALETTE, classes=CLASSES, max_fps=10)
    zones = parse_zones({"zones": {"door": {"normalized": True, "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}})
    hub.add_camera("gate", zones=zones)
    hub.add_camera("yard")
    cams = Cameras(hub)
    live = LiveView(hub, health=cams.health)
    server, url = serve(live)
    yield hub, live, url, cams
    hub.close()
    cams.close()
    server.shutdown()
    server.server_close()


def get(url, headers=None, timeout=10):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def decode_jpeg(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data), format="mjpeg") as c:
        return next(c.decode(video=0)).to_ndarray(format="rgb24")


def test_no_viewer_no_work(site):
    hub, _, url, cams = site
    time.sleep(0.5)  # about 12 frames a camera, offered to nobody
    assert cams.frames["gate"] >= 5 and hub.encodes == 0
    t0 = time.perf_counter()
    for _ in range(1000):
        hub.offer("gate", None)  # the unwatched path reads one flag
    assert (time.perf_counter() - t0) / 1000 < 50e-6
    assert get(f"{url}/cameras/gate/frame.jpg")[0] == 200 and hub.encodes == 1


def test_page_status_jpeg_and_mjpeg(site):
    hub, _, url, cams = site
    status, ctype, body = get(url + "/")
    page = body.decode()
    assert status == 200 and ctype.startswith("text/html")
    assert '/cameras/gate/preview' in page and '/cameras/yard/preview' in page and "live view · 2 cameras" in page
    time.sleep(0.3)
    st = json.loads(get(f"{url}/cameras/gate/status")[2])
    assert st["camera"] == "gate" and st["healthy"] is True and st["health"]["state"] == "running"
    # by hand: person is the left fifth (128 of 640 columns), car a 120×100 box: 12000 of 230400 pixels
    assert st["class_fraction"]["person"] == 0.2 and st["class_fraction"]["car"] == round(12000 / 230400, 6)
    assert st["zones"]["door"]["person"] == 0.4  # 128 of the door's 320 columns
    assert json.loads(get(f"{url}/cameras/yard/status")[2])["zones"] == {}
    status, ctype, body = get(f"{url}/cameras/yard/frame.jpg")
    assert status == 200 and ctype == "image/jpeg" and decode_jpeg(body).shape == (H, W, 3)
    with urllib.request.urlopen(f"{url}/cameras/gate/preview", timeout=10) as r:
        assert r.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=edgeseg-frame"
        parts = []
        while len(parts) < 3:
            assert r.readline() == b"--edgeseg-frame\r\n"
            head = dict(line.decode().strip().split(": ", 1) for line in iter(r.readline, b"\r\n"))
            parts.append(r.read(int(head["Content-Length"])))
            assert r.readline() == b"\r\n"
    images = [decode_jpeg(p) for p in parts]
    assert all(img.shape == (H, W, 3) for img in images)
    assert np.abs(images[0].astype(int) - images[2]).mean() > 2  # the box moved
    door_edge = images[0][:, 317:323].min(axis=2).max(axis=1)  # the door's right edge, x = 320, drawn white
    assert door_edge.min() > 200 and images[0][:, 300:310].min(axis=2).max() < 200
    with pytest.raises(urllib.error.HTTPError) as err:
        get(url + "/cameras/nope/status")
    assert err.value.code == 404


def test_token_and_exposure_rule(site):
    hub, live, url, _ = site
    live.token = "s3cret-token"
    for path in ("/", "/cameras/gate/status", "/cameras/gate/frame.jpg", "/cameras/gate/preview"):
        with pytest.raises(urllib.error.HTTPError) as err:
            get(url + path)
        assert err.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as err:
            get(url + path + "?token=wrong")
        assert err.value.code == 401
    assert get(url + "/?token=s3cret-token")[0] == 200
    assert "/cameras/gate/preview?token=s3cret-token" in get(url + "/?token=s3cret-token")[2].decode()
    assert get(url + "/cameras/gate/status", {"Authorization": "Bearer s3cret-token"})[0] == 200
    assert check_token({}, {"token": ["s3cret-token"]}, "s3cret-token") and check_token({}, {}, None)
    assert not check_token({"Authorization": "Basic s3cret-token"}, {}, "s3cret-token")
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        check_exposure(host, None)
    check_exposure("0.0.0.0", "s3cret-token")
    with pytest.raises(ConfigError) as err:
        check_exposure("0.0.0.0", None, where="edgeseg.toml: ")
    assert str(err.value).startswith("edgeseg.toml: metrics.token: required when the live view listens on '0.0.0.0'")


def chromium_binary():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(url: str, path, profile) -> np.ndarray:
    cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={profile}", f"--screenshot={path}", "--window-size=1200,800", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert path.exists(), err.decode(errors="replace")[-2000:]
    return read_png(path)[:, :, :3].astype(np.int16)


def test_chromium_shows_every_camera_and_the_previews_move(site, tmp_path):
    if chromium_binary() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    hub, _, url, _ = site
    a = screenshot(url + "/", tmp_path / "a.png", tmp_path / "profile-a")
    time.sleep(1.0)
    b = screenshot(url + "/", tmp_path / "b.png", tmp_path / "profile-b")
    assert a.shape == (800, 1200, 3) and hub.encodes >= 2
    top = HEADER_PX + GAP_PX
    for i in range(2):  # the two tiles side by side; look inside each preview box, away from its edges
        left = GAP_PX + i * (TILE_PX + GAP_PX)
        box = (slice(top + 10, top + PREVIEW_PX - 10), slice(left + 10, left + TILE_PX - 10))
        info = (slice(top + PREVIEW_PX + 5, top + PREVIEW_PX + 120), slice(left + 5, left + TILE_PX - 5))
        assert a[box].std() > 20 and b[box].std() > 20, f"tile {i}: no preview image"
        assert np.abs(a[box] - b[box]).mean() > 2, f"tile {i}: the preview did not change"
        for shot in (a, b):  # the health line and the fractions' bars (#4a8fd6)
            assert shot[info].std() > 5, f"tile {i}: no health or fractions text"
            bars = (np.abs(shot[info] - np.array([0x4A, 0x8F, 0xD6])).max(axis=2) <= 3).sum()
            assert bars > 500, f"tile {i}: no fraction bars ({bars} pixels)"
    background = a[790:800, 1190:1200].reshape(-1, 3)
    assert np.abs(background - np.array([0x15, 0x17, 0x1A])).max() <= 2  # the page itself, not a blank screen


def test_feeding_stops_after_the_last_viewer_leaves(site):
    hub, _, url, _ = site
    with urllib.request.urlopen(f"{url}/cameras/yard/preview", timeout=10) as r:
        assert r.readline() == b"--edgeseg-frame\r\n"
    time.sleep(1.5)  # the stream ended; results keep coming for 1 s more
    first = hub.status("yard")["frame"]
    time.sleep(0.5)
    assert hub.status("yard")["frame"] == first  # offer() kept nothing new: nobody watches


def test_a_zone_beyond_the_frame_is_reported_not_fatal():
    hub = PreviewHub(palette=PALETTE, classes=CLASSES)
    hub.add_camera("gate", zones=parse_zones({"zones": {"far": {"points": [[0, 0], [900, 0], [0, 10]]}}}, path="z.toml"))
    hub.touch("gate")
    hub.offer("gate", frame_and_labels(0, 0))
    status = hub.status("gate")
    assert status["zones"] == {} and status["class_fraction"]["person"] == 0.2
    assert status["zones_error"] == "z.toml: zones.far.points: point [900, 0] is outside the 640x360 frame"
    assert decode_jpeg(hub.jpeg("gate", after=None)[1]).shape == (H, W, 3)  # the preview goes without the outline
