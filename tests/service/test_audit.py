"""The full-model audit runs every audit_seconds of a worker's life, also on a looping file whose passes are
shorter than that (each pass used to restart the audit timer, so no audit ever ran)."""

from running_service import running, wait_until

from edgeseg.service.config import parse_config


def test_a_looping_file_shorter_than_the_audit_period_is_still_audited(tmp_path, bundle_dir, clip):
    pass_s = clip.frames / 25  # realtime pacing: one pass of the 40-frame clip takes 1.6 s
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "keyframe_interval": 5, "loop": True,
                     "realtime": True, "overlay": False, "stats": False, "audit_seconds": 3 * pass_s},
        "cameras": {"a": {"uri": str(clip.path)}},
        "metrics": {"enabled": False}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    with running(cfg) as svc:
        wait_until(lambda: svc.workers and svc.workers["a"].frames >= 5 * clip.frames, timeout=60)
        worker = svc.workers["a"]
        passes, audited = worker.frames / clip.frames, worker.last_audit
    assert passes >= 5
    assert audited is not None and 0.0 <= audited <= 1.0
