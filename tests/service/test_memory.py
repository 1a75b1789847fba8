"""Long runs: nothing the cameras decode or encode is left to Python's cyclic garbage collector.

A decoded picture is native memory (FFmpeg buffers) that tracemalloc does not see. Held by a reference cycle, it
lives until one of the collector's rare full passes: RSS grew by hundreds of MB in the service's soak. This runs
the real service (two looping cameras, batcher, overlay + stats segments, audit, metrics) with the collector off
and checks what a collection then finds.
"""

import gc
import threading
import time

import av

from edgeseg.service.config import parse_config
from edgeseg.service.notify import Notifier
from edgeseg.service.service import Service


def test_looping_cameras_leave_no_frames_or_packets_in_cyclic_garbage(tmp_path, bundle_dir, clip):
    cfg = parse_config({
        "model": {"bundle": str(bundle_dir), "backend": "ort-cpu", "threads": 1},
        "defaults": {"output_dir": str(tmp_path / "out"), "mode": "prop", "keyframe_interval": 5, "loop": True,
                     "overlay": True, "stats": True, "segment_seconds": 1, "audit_seconds": 0.05},
        "cameras": {"a": {"uri": str(clip.path)}, "b": {"uri": str(clip.path)}},
        "metrics": {"port": 0}, "service": {"health_interval_s": 0.1}}, path=tmp_path / "s.toml")
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds unreachable stays in gc.garbage for inspection
    try:
        svc = Service(cfg, notifier=Notifier(None))
        runner = threading.Thread(target=svc.run, kwargs={"handle_signals": False})
        runner.start()
        end = time.monotonic() + 120
        while time.monotonic() < end and not (svc.workers and all(w.frames >= 3 * clip.frames
                                                                  for w in svc.workers.values())):
            time.sleep(0.05)
        looped = {n: w.frames for n, w in svc.workers.items()}
        gc.collect()  # while running: what the loops so far left behind (frames in flight are still reachable)
        # pictures and packets own FFmpeg buffers (a 640×360 picture: 350 kB); other cyclic garbage is Python's
        held = sorted(type(o).__name__ for o in gc.garbage if isinstance(o, (av.VideoFrame, av.Packet)))
        svc.request_stop()
        runner.join(timeout=30)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not runner.is_alive()
    assert all(n >= 3 * clip.frames for n in looped.values()), looped  # each camera reopened its file 3 times
    assert held == [], f"{len(held)} PyAV objects in reference cycles: {sorted(set(held))}"
