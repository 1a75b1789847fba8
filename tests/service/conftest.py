"""Fixtures for service tests: the tiny ONNX bundle, a small H.264 clip, RTSP servers on a fixed port."""

from __future__ import annotations

import socket

import clips
import pytest
import tiny_bundle
from rtsp_server import RtspServer


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory):
    return tiny_bundle.make(tmp_path_factory.mktemp("bundle") / "tiny")


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """40 frames, 160×96, 25 fps, GOP 10, B-frames: a small camera stream."""
    return clips.translate_clip(tmp_path_factory.mktemp("clip") / "cam.mp4", size=(160, 96), frames=40, gop=10,
                                bframes=2, fps=25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortRtspServer(RtspServer):
    """tests/rtsp_server.py's server on a chosen port, so a test can stop it and start it again there."""

    def __init__(self, path, *, port: int, fps: float = 25.0):
        super().__init__(path, fps=fps)
        self._sock.close()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(4)
        self.url = f"rtsp://127.0.0.1:{port}/clip"


@pytest.fixture
def rtsp_server_class():
    """PortRtspServer (conftest modules are not importable by name: handed over as a fixture)."""
    return PortRtspServer


@pytest.fixture(params=["python", "gstreamer"])
def any_rtsp_server_class(request):
    """Each real RTSP server in turn: the repository's (PortRtspServer) and GStreamer's (Debian packages;
    skipped where they are not installed). Same interface: cls(path, port=, fps=), a context manager."""
    if request.param == "python":
        return PortRtspServer
    import gst_rtsp_server

    if not gst_rtsp_server.available():
        pytest.skip("GStreamer's RTSP server is not installed (gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gi)")
    return gst_rtsp_server.GstRtspServer


@pytest.fixture
def port():
    return free_port()
