"""GStreamer's RTSP server (Debian packages) serving an MP4's H.264 at rtsp://127.0.0.1:PORT/clip.

Usage::

    with GstRtspServer(mp4_path) as url:   # a free port; runs this file with the system python3
        src = open_source(url)

GStreamer's Python bindings come from Debian (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-rtsp,
gstreamer1.0-plugins-good/-bad), so the server runs in the system python3, not in the project's venv; `.ci/run`
installs the packages. Every client gets its own pipeline that plays the file once at its own frame rate.
`available()` says whether this machine has them (the tests skip otherwise).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
_CHECK = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer"


@cache
def available() -> bool:
    """The system python3 can import GStreamer's RTSP server."""
    if not Path(SYSTEM_PYTHON).exists():
        return False
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class GstRtspServer:
    """A GStreamer RTSP server process on a chosen port; stop it and start another there (reconnect tests).

    fps is accepted for interface parity with tests/rtsp_server.py and ignored: GStreamer paces the file by
    its own timestamps.
    """

    def __init__(self, path, *, port: int | None = None, fps: float = 25.0):
        if port is None:  # a free port
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.path, self.port, self.fps = Path(path), port, fps
        self.url = f"rtsp://127.0.0.1:{port}/clip"
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> str:
        self._proc = subprocess.Popen([SYSTEM_PYTHON, __file__, str(self.path), str(self.port)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 20
        while time.monotonic() < end:  # listening once a TCP connect succeeds
            if self._proc.poll() is not None:
                raise RuntimeError(f"GStreamer RTSP server exited: {self._proc.stderr.read()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.url
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise RuntimeError(f"GStreamer RTSP server did not listen on port {self.port} within 20 s")

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc.stdout.close()
            self._proc.stderr.close()
            self._proc = None


def _serve(path: str, port: str) -> None:  # runs in the system python3
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst
    from gi.repository import GstRtspServer as Rtsp

    Gst.init(None)
    server = Rtsp.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = Rtsp.RTSPMediaFactory()
    factory.set_launch(f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )')
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    server.attach(None)
    GLib.MainLoop().run()


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
