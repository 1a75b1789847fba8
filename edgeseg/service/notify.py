"""systemd's notify protocol over a plain unix datagram socket (no dependency).

Usage: ``n = Notifier.from_env(); n.ready(); n.watchdog(); n.stopping()`` — all no-ops without NOTIFY_SOCKET.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("edgeseg.service")


def _address(value: str) -> str | bytes:
    # "@name" is Linux's abstract namespace: a leading NUL byte
    return b"\0" + value[1:].encode() if value.startswith("@") else value


class Notifier:
    """Sends sd_notify messages to `socket_path` (None: does nothing). watchdog_s: systemd's WatchdogSec."""

    def __init__(self, socket_path: str | None, *, watchdog_s: float | None = None):
        self.socket_path, self.watchdog_s = socket_path or None, watchdog_s
        self.sent: list[str] = []  # the last 100 messages sent, for logs and tests
        self._failing = False

    @classmethod
    def from_env(cls, env=None) -> Notifier:
        env = os.environ if env is None else env
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        watchdog = int(usec) / 1e6 if usec and usec.isdigit() and (not pid or pid == str(os.getpid())) else None
        return cls(env.get("NOTIFY_SOCKET"), watchdog_s=watchdog)

    def notify(self, message: str) -> bool:
        """Send one message ("READY=1", "STATUS=…"); returns whether it was delivered."""
        if self.socket_path is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(_address(self.socket_path))
                # never block the health loop on a reader that does not drain its queue
                sock.send(message.encode(), socket.MSG_DONTWAIT)
        except OSError as exc:
            if not self._failing:  # once per run of failures, not per message
                log.warning("sd_notify %s to %s failed: %s", message.split("\n")[0], self.socket_path, exc)
            self._failing = True
            return False
        self._failing = False
        self.sent.append(message)
        del self.sent[:-100]
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")
