"""The real service on a background thread for tests (importable as ``import running_service``).

Usage::

    with running_service.running(cfg) as svc:
        running_service.wait_until(lambda: svc.workers["a"].state == "finished")
"""

from __future__ import annotations

import contextlib
import threading
import time

from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


@contextlib.contextmanager
def running(cfg):
    """Service(cfg).run() on a thread; stopped and joined (30 s at most) when the block ends."""
    svc = Service(cfg, notifier=Notifier(None))
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    runner.start()
    try:
        yield svc
    finally:
        svc.request_stop()
        runner.join(timeout=30)
    assert not runner.is_alive()


def wait_until(pred, timeout: float = 120.0) -> bool:
    """Poll pred() every 50 ms until it holds or timeout passes; whether it held."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False
