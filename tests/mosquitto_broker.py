"""A real Mosquitto MQTT broker on 127.0.0.1 for tests (Debian's `mosquitto`, installed by .ci/run), and a
subscriber that collects what it receives.

Usage::

    with MosquittoBroker(port) as broker:     # pytest.skip where the binary is missing
        sub = Subscriber(port, "edgeseg/#")
        ...; broker.kill(); broker.start()     # the same port again
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from running_service import wait_until


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if Path(p).exists()), None)


def wait_port(port: int, *, up: bool, timeout: float = 10.0) -> bool:
    """Whether 127.0.0.1:port came to accept (up) or to refuse (not up) connections within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return True
        except OSError:
            if not up:
                return True
        time.sleep(0.05)
    return False


class MosquittoBroker:
    """mosquitto -c CONF: one listener on 127.0.0.1:port, anonymous clients, no persistence."""

    def __init__(self, port: int, workdir: Path):
        import pytest

        self.binary = mosquitto_binary()
        if self.binary is None:
            pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto; .ci/run installs it)")
        self.port, self.dir = port, Path(workdir)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                             "log_dest stderr\nlog_type error\nlog_type warning\n")
        self.conf.chmod(0o644)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.dir / "mosquitto.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log, stderr=log)
        log.close()
        if not wait_port(self.port, up=True):
            self.kill()
            raise RuntimeError(f"mosquitto did not listen on {self.port}: "
                               f"{(self.dir / 'mosquitto.log').read_text(errors='replace')[-500:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()


class Subscriber:
    """A paho client subscribed to `topic` (again after each reconnect); messages: [(topic, payload dict,
    receive time)]."""

    def __init__(self, port: int, topic: str = "#"):
        from paho.mqtt import client as mqtt

        self.messages: list[tuple[str, dict, float]] = []
        self.ready = threading.Event()
        self._lock = threading.Lock()
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-sub-{port}")
        c.reconnect_delay_set(0.1, 0.5)
        c.on_connect = lambda cl, _u, _f, _rc, _p=None: (cl.subscribe(topic, qos=1), self.ready.set())
        c.on_message = self._message
        c.connect_async("127.0.0.1", port, keepalive=10)
        c.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("the test subscriber did not connect")
        time.sleep(0.2)  # the SUBACK

    def _message(self, _client, _userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload), time.monotonic()))

    def on(self, topic: str) -> list[dict]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def wait_for(self, pred, timeout: float = 10.0) -> bool:
        return wait_until(pred, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
