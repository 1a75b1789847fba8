"""Live view of the cameras in a browser, served by the service's HTTP server (MetricsServer) next to /metrics.

Usage::

    hub = PreviewHub(palette=bundle.palette, classes=bundle.classes)      # max_width=640, max_fps=5
    hub.add_camera("gate", zones=load_zones("zones.toml"))
    hub.offer("gate", result)            # camera thread, per frame: nothing at all happens unless someone watches
    live = LiveView(hub, health=service.health, token=None)
    live.handle(request_handler)         # in a BaseHTTPRequestHandler.do_GET: True if it answered the request

Routes: ``GET /`` (the page: one tile per camera), ``GET /cameras/NAME/preview`` (MJPEG,
multipart/x-mixed-replace), ``GET /cameras/NAME/frame.jpg`` (the latest preview as one JPEG),
``GET /cameras/NAME/status`` (JSON: health, class and zone fractions of the latest previewed frame).
Cost: offer() reads one flag per frame while nobody watches; while someone does it keeps a reference to at most
max_fps results a second. Blending and JPEG encoding (PyAV's mjpeg) run on the viewer's HTTP thread, once per
frame however many viewers there are. Access: bound to a loopback address by default; anywhere else a token is
required (check_exposure) and every live-view request must carry it (``?token=`` or ``Authorization: Bearer``).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from edgeseg.errors import ConfigError

BOUNDARY = "edgeseg-frame"
JPEG_QUALITY = 4  # mjpeg's qscale (2 best … 31 worst): 640×360 previews of about 30-60 kB


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None, *, where: str = "", key: str = "metrics.token") -> None:
    """ConfigError unless the live view stays on a loopback address or has a token (`key` names the setting)."""
    if not token and not is_loopback(host):
        raise ConfigError(f"{where}{key}: required when the live view listens on {host!r}, which is not a "
                          "loopback address (set a long random token, or live_view = false)")


def check_token(headers, query: dict, token: str | None) -> bool:
    """Whether a request may see the live view: no token configured, or `?token=` / `Authorization: Bearer`
    equal to it (constant-time comparison). query: parse_qs's {name: [values]}."""
    if not token:
        return True
    offered = list(query.get("token", []))
    auth = (headers.get("Authorization") or "") if headers is not None else ""
    if auth[:7].lower() == "bearer ":
        offered.append(auth[7:].strip())
    return any(hmac.compare_digest(o.encode(), token.encode()) for o in offered)


class _Cam:
    def __init__(self, zones):
        self.zones, self.counter = zones, None
        self.watched = False  # the one flag offer() reads while nobody watches
        self.viewers = 0
        self.wanted_until = 0.0
        self.next_take = 0.0
        self.result, self.seq = None, 0
        self.cond = threading.Condition()
        self.encode_lock = threading.Lock()
        self.jpeg, self.jpeg_seq = b"", -1
        self.status, self.status_seq = {}, -1
        self.encoder, self.outline = None, None


class PreviewHub:
    """Per camera the latest result at most max_fps times a second, while someone watches; previews on demand."""

    def __init__(self, *, palette, classes, max_width: int = 640, max_fps: float = 5.0, alpha: float = 0.5,
                 linger_s: float = 5.0, clock=time.monotonic):
        from edgeseg.sink.overlay import blend_tables

        self.classes, self.max_width, self.max_fps, self.linger_s = list(classes), max_width, max_fps, linger_s
        self.tables = blend_tables(np.asarray(palette, np.uint8).reshape(-1, 3), alpha)
        self.clock = clock
        self.encodes = 0  # JPEGs encoded (tests: none while nobody watches)
        self._cams: dict[str, _Cam] = {}
        self.closed = threading.Event()

    @property
    def cameras(self) -> list[str]:
        return list(self._cams)

    def add_camera(self, name: str, zones=None) -> None:
        self._cams[name] = _Cam(zones)

    def remove_camera(self, name: str) -> None:
        cam = self._cams.pop(name, None)
        if cam is not None:
            with cam.cond:
                cam.cond.notify_all()

    def offer(self, name: str, result) -> None:
        """A camera's new result (camera thread). Returns at once; without a viewer it does nothing at all."""
        cam = self._cams.get(name)
        if cam is None or not cam.watched:
            return
        now = self.clock()
        if cam.viewers == 0 and now >= cam.wanted_until:
            cam.watched = False
            return
        if now < cam.next_take:
            return
        cam.next_take = now + 1.0 / self.max_fps
        with cam.cond:
            cam.result, cam.seq = result, cam.seq + 1
            cam.cond.notify_all()

    def touch(self, name: str) -> None:
        """Someone looked (a status or single-frame request): keep results coming for linger_s."""
        cam = self._cams.get(name)
        if cam is not None:
            cam.wanted_until = self.clock() + self.linger_s
            cam.watched = True

    def wait_first(self, names, timeout: float) -> None:
        """Wait (up to timeout in all) until each of these cameras has a previewed result (after touch())."""
        deadline = self.clock() + timeout
        for name in names:
            cam = self._cams.get(name)
            if cam is not None:
                with cam.cond:
                    cam.cond.wait_for(lambda c=cam: c.result is not None, max(0.0, deadline - self.clock()))

    @contextmanager
    def watching(self, name: str):
        """An open preview stream: results keep coming while it lasts."""
        cam = self._cams[name]
        cam.viewers += 1  # under the GIL; offer() only reads it
        cam.watched = True
        try:
            yield
        finally:
            cam.viewers -= 1
            cam.wanted_until = self.clock() + 1.0

    def jpeg(self, name: str, *, after: int | None = 0, timeout: float = 1.0) -> tuple[int, bytes] | None:
        """(seq, JPEG) of the newest previewed result newer than `after` (None: the latest, or the first to
        come), waiting up to timeout; else None."""
        cam = self._cams.get(name)
        if cam is None:
            return None
        with cam.cond:
            if after is None:
                after = max(0, cam.seq - 1)
            if not cam.cond.wait_for(lambda: cam.seq > after or self.closed.is_set(), timeout) or cam.seq <= after:
                return None
            seq, result = cam.seq, cam.result
        with cam.encode_lock:  # one encode per result, whoever asks
            if cam.jpeg_seq != seq:
                cam.jpeg, cam.jpeg_seq = self._encode(cam, self.render(cam, result)), seq
                self.encodes += 1
            return seq, cam.jpeg

    def render(self, cam: _Cam, result) -> np.ndarray:
        """(h, w, 3) RGB: the frame at preview size blended with its labels, zone outlines in white."""
        from edgeseg.sink.overlay import blend_rgb, nearest_index

        frame = result.frame
        H, W = frame.height, frame.width
        scale = min(1.0, self.max_width / W)
        h, w = max(2, 2 * round(H * scale / 2)), max(2, 2 * round(W * scale / 2))
        step = max(1, int(W / w))
        labels = result.labels_at(step)
        labels = labels[nearest_index(labels.shape[0], h)[:, None], nearest_index(labels.shape[1], w)[None, :]]
        image = frame.resized(h, w)
        if image is None:
            image = frame.image[nearest_index(H, h)[:, None], nearest_index(W, w)[None, :]]
        out = blend_rgb(np.ascontiguousarray(image), labels, self.tables)
        if cam.zones is not None:
            if cam.outline is None or cam.outline.shape != (h, w):
                cam.outline = _outlines(cam.zones, H, W, h, w)
            out[cam.outline] = 255
        return out

    def _encode(self, cam: _Cam, rgb: np.ndarray) -> bytes:
        import av

        h, w = rgb.shape[:2]
        if cam.encoder is None or (cam.encoder.height, cam.encoder.width) != (h, w):
            from fractions import Fraction

            ctx = av.CodecContext.create("mjpeg", "w")
            ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = w, h, "yuvj420p", Fraction(1, 25)
            ctx.options = {"qmin": str(JPEG_QUALITY), "qmax": str(JPEG_QUALITY)}
            cam.encoder = ctx
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
        return b"".join(bytes(p) for p in cam.encoder.encode(frame))

    def status(self, name: str) -> dict:
        """{"frame", "pts", "class_fraction", "zones"} of the latest previewed result ({} before the first)."""
        from edgeseg.sink.stats import result_fractions
        from edgeseg.sink.zones import ZoneCounter

        cam = self._cams.get(name)
        if cam is None or cam.result is None:
            return {}
        with cam.encode_lock:
            seq, result = cam.seq, cam.result
            if cam.status_seq != seq:
                st = {"frame": result.frame.index, "pts": result.frame.pts,
                      "class_fraction": result_fractions(result, self.classes), "zones": {}}
                if cam.zones is not None:
                    cam.counter = cam.counter or ZoneCounter(cam.zones, self.classes)
                    try:
                        st["zones"] = cam.counter(result)
                    except ConfigError as exc:  # a zone beyond this camera's frame
                        st["zones_error"] = str(exc)
                cam.status, cam.status_seq = st, seq
            return cam.status

    def close(self) -> None:
        """Ends every open preview stream."""
        self.closed.set()
        for cam in list(self._cams.values()):
            with cam.cond:
                cam.cond.notify_all()


def _outlines(zones, H: int, W: int, h: int, w: int) -> np.ndarray:
    """(h, w) bool: the pixels on the edge of a zone at preview size."""
    from edgeseg.sink.zones import polygon_mask

    edge = np.zeros((h, w), bool)
    rows, cols = np.arange(h) + 0.5, np.arange(w) + 0.5
    for z in zones.zones:
        try:
            m = polygon_mask(z.pixels(H, W) * (w / W, h / H), rows, cols)
        except ConfigError:  # a point beyond this frame: the camera reports it; the preview goes without
            continue
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        edge |= m & ~inner
    return edge


class LiveView:
    """Answers the live view's routes for an http.server request handler (see the module docstring).

    health: () → (ok, {camera: status}) as MetricsServer's; token: required from every request when set."""

    def __init__(self, hub: PreviewHub, *, health=None, token: str | None = None, max_streams: int = 8):
        self.hub, self.health, self.token, self.max_streams = hub, health, token, max_streams
        self.streams = 0
        self._lock = threading.Lock()

    def handle(self, h) -> bool:
        """Answer `h` (a BaseHTTPRequestHandler in do_GET) if its path is a live-view route; else False."""
        url = urlsplit(h.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if parts in ([], ["index.html"]):
            kind, name = "page", None
        elif len(parts) == 3 and parts[0] == "cameras" and parts[2] in ("preview", "frame.jpg", "status"):
            kind, name = parts[2], parts[1]
        else:
            return False
        if not check_token(h.headers, parse_qs(url.query), self.token):
            _send(h, 401, b"unauthorized: add ?token=TOKEN or an Authorization: Bearer TOKEN header\n",
                  "text/plain", {"WWW-Authenticate": 'Bearer realm="edgeseg"'})
        elif name is not None and name not in self.hub.cameras:
            _send(h, 404, f"no camera {name!r}\n".encode(), "text/plain")
        elif kind == "page":
            from edgeseg.service.livepage import render_page

            names = sorted(self.hub.cameras)
            for n in names:
                self.hub.touch(n)
            self.hub.wait_first(names, 2.0 / self.hub.max_fps)  # a page that shows fractions at once
            page = render_page(names, {n: self.status(n) for n in names}, token=self.token)
            _send(h, 200, page.encode(), "text/html; charset=utf-8")
        elif kind == "status":
            self.hub.touch(name)
            _send(h, 200, json.dumps(self.status(name)).encode(), "application/json")
        elif kind == "frame.jpg":
            self.hub.touch(name)
            got = self.hub.jpeg(name, after=None, timeout=2.0)
            if got is None:
                _send(h, 503, b"no frame yet\n", "text/plain")
            else:
                _send(h, 200, got[1], "image/jpeg")
        else:
            self._stream(h, name)
        return True

    def status(self, name: str) -> dict:
        """{"camera", "healthy", "health": the camera's /healthz entry, "frame", "pts", "class_fraction", "zones"}."""
        detail = self.health()[1].get(name) if self.health is not None else None
        healthy = detail.get("healthy") if isinstance(detail, dict) else None
        return {"camera": name, "healthy": healthy, "health": detail, **self.hub.status(name)}

    def _stream(self, h, name: str) -> None:
        """MJPEG: a JPEG part per new preview until the viewer leaves or the hub closes."""
        with self._lock:
            full = self.streams >= self.max_streams
            self.streams += not full
        if full:
            _send(h, 503, f"at most {self.max_streams} preview streams at once\n".encode(), "text/plain")
            return
        try:
            h.send_response(200)
            h.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            h.send_header("Cache-Control", "no-store")
            h.end_headers()
            seq = 0
            with self.hub.watching(name):
                while not self.hub.closed.is_set() and name in self.hub.cameras:
                    got = self.hub.jpeg(name, after=seq, timeout=1.0)
                    if got is None:
                        continue
                    seq, data = got
                    h.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}"
                                  "\r\n\r\n".encode() + data + b"\r\n")
                    h.wfile.flush()
        except OSError:  # the viewer went away
            pass
        finally:
            with self._lock:
                self.streams -= 1


def _send(h, code: int, body: bytes, ctype: str, headers: dict | None = None) -> None:
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    h.send_header("Cache-Control", "no-store")
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)
