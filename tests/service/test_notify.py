"""sd_notify over a real unix datagram socket: path and abstract addresses, watchdog settings."""

import os
import socket

from edgeseg.service.notify import Notifier


def _listener(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    return sock


def test_messages_reach_a_path_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    with _listener(path) as sock:
        n = Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())})
        assert n.watchdog_s == 3.0
        assert n.ready("2 cameras") and n.watchdog() and n.stopping()
        got = [sock.recv(4096).decode() for _ in range(3)]
    assert got == ["READY=1\nSTATUS=2 cameras", "WATCHDOG=1", "STOPPING=1"]
    assert n.sent == got


def test_abstract_socket_address():
    name = f"edgeseg-test-{os.getpid()}"
    with _listener(b"\0" + name.encode()) as sock:
        assert Notifier(f"@{name}").notify("STATUS=hello")
        assert sock.recv(4096) == b"STATUS=hello"


def test_without_socket_nothing_is_sent_and_watchdog_for_another_pid_is_ignored(tmp_path):
    n = Notifier.from_env({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    assert n.socket_path is None and n.watchdog_s is None
    assert not n.ready() and n.sent == []
    gone = Notifier(str(tmp_path / "nobody.sock"))  # a socket nobody listens on: logged, not raised
    assert not gone.watchdog()


def test_a_full_queue_drops_messages_instead_of_blocking(tmp_path):
    path = str(tmp_path / "full.sock")
    with _listener(path):  # nobody reads: the kernel queue fills up
        n = Notifier(path)
        results = [n.watchdog() for _ in range(2000)]
    assert results[0] and not results[-1]  # later ones dropped (EAGAIN), the call returned every time
