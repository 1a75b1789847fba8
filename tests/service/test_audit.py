"""The full-model audit runs every audit_seconds of a worker's life, also on a looping file whose passes are
shorter than that (each pass used to restart the audit timer, so no audit ever ran)."""

import threading
import time

from edgeseg.service.config import parse_config
from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


def test_a_looping_file_shorter_than_the_audit_period_is_still_audited(tmp_path, bundle_dir, clip):
    pass_s = clip.frames / 25  # realtime pacing: one pass of the 40-frame clip takes 1.6 s
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "keyframe_interval": 5, "loop": True,
                     "realtime": True, "overlay": False, "stats": False, "audit_seconds": 3 * pass_s},
        "cameras": {"a": {"uri": str(clip.path)}},
        "metrics": {"enabled": False}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    svc = Service(cfg, notifier=Notifier(None))
    runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
    runner.start()
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end and not (svc.workers and svc.workers["a"].frames >= 5 * clip.frames):
            time.sleep(0.05)
        worker = svc.workers["a"]
        passes, audited = worker.frames / clip.frames, worker.last_audit
    finally:
        svc.request_stop()
        runner.join(timeout=30)
    assert passes >= 5
    assert audited is not None and 0.0 <= audited <= 1.0
