"""Keyframe feature calls of several camera threads batched into one real onnxruntime call."""

import threading
import time

import numpy as np
import pytest
import tiny_bundle

from edgeseg.backend.networks import open_networks
from edgeseg.service.batcher import BatchingNetworks


@pytest.fixture(scope="module")
def backend(bundle_dir):
    return open_networks(bundle_dir, backend="ort-cpu", threads=1)[0]


def _images(seed, n=1):
    return np.random.default_rng(seed).normal(size=(n, 3, tiny_bundle.H, tiny_bundle.W)).astype(np.float32)


def test_concurrent_calls_become_one_batch_with_each_callers_own_rows(backend):
    shared = BatchingNetworks(backend, max_batch=8, wait_s=2.0)
    clients = [shared.client() for _ in range(3)]
    out, barrier = {}, threading.Barrier(3)

    def call(k):
        barrier.wait()
        out[k] = clients[k].features(_images(k, n=1 + (k == 2)))

    threads = [threading.Thread(target=call, args=(k,)) for k in range(3)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 < 1.5  # all three clients waiting: the batch went without the 2 s wait
    assert shared.batches == [3]
    for k in range(3):
        ref, _ = tiny_bundle.reference(_images(k, n=1 + (k == 2)))
        np.testing.assert_allclose(out[k], ref, rtol=1e-5, atol=1e-5)
    scores = clients[0].scores(out[0])
    np.testing.assert_allclose(scores, tiny_bundle.reference(_images(0))[1], rtol=1e-5, atol=1e-5)
    shared.close()


def test_an_idle_camera_delays_a_keyframe_by_the_wait_only(backend):
    seen = []
    shared = BatchingNetworks(backend, max_batch=8, wait_s=0.1, on_batch=lambda n, s: seen.append((n, s)))
    busy, _idle = shared.client(), shared.client()  # the idle one never calls (a stalled camera)
    t0 = time.monotonic()
    busy.features(_images(1))
    assert 0.09 <= time.monotonic() - t0 < 1.0
    assert [n for n, _ in seen] == [1] and seen[0][1] > 0
    shared.close()


def test_max_batch_splits_and_errors_reach_every_caller(backend):
    shared = BatchingNetworks(backend, max_batch=2, wait_s=0.5)
    clients = [shared.client() for _ in range(4)]
    errors, barrier = [], threading.Barrier(4)

    def call(k):
        barrier.wait()
        bad = np.zeros((1, 4, *_images(0).shape[2:]), np.float32)  # 4 channels: the batch it lands in fails
        try:
            clients[k].features(_images(k) if k < 2 else bad)
        except Exception as exc:  # noqa: BLE001 - the test looks at what arrived
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert all(n <= 2 for n in shared.batches) and sum(shared.batches) == 4
    assert len(errors) >= 2  # the bad images' batch fails for every caller in it
    shared.close()
    with pytest.raises(RuntimeError, match="closed"):
        clients[0].features(_images(0))


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["ort-cuda", "trt"])
def test_gpu_cameras_keep_features_on_the_device(clip, kind):
    """Two cameras on one GPU backend: batched features stay on the device, labels match the CPU path."""
    from edgeseg.backend import available_kinds
    from edgeseg.backend.networks import default_bundle_path
    from edgeseg.pipeline import SegmentSpec, build_segmenter, motion_pairs, open_for, run_stream

    if kind not in available_kinds():
        pytest.skip(f"{kind} is not available here")

    def run(nets, bundle, out, segs):
        spec = SegmentSpec(mode="interp", keyframe_interval=5)
        seg = build_segmenter(spec, nets=nets, bundle=bundle)
        segs.append(seg)
        with open_for(spec, str(clip)) as src:
            run_stream(motion_pairs(src, spec), seg,
                       on_result=lambda r: out.__setitem__(r.frame.index, r.labels))

    gpu_nets, bundle = open_networks(default_bundle_path(), backend=kind)
    shared = BatchingNetworks(gpu_nets, max_batch=4, wait_s=0.5)
    clients = [shared.client() for _ in range(2)]
    outs, segs = [{}, {}], []
    threads = [threading.Thread(target=run, args=(c, bundle, o, segs)) for c, o in zip(clients, outs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert all(type(s._track.key).__module__.startswith("cupy") for s in segs)  # keyframe features on the device
    assert max(shared.batches) == 2  # the two cameras' keyframes went together at least once
    cpu_nets, _ = open_networks(default_bundle_path(), backend="ort-cpu", threads=2)
    cpu, _segs = {}, []
    run(cpu_nets, bundle, cpu, _segs)
    for out in outs:
        assert sorted(out) == sorted(cpu)
        agree = np.mean([np.mean(out[i] == cpu[i]) for i in cpu])
        assert agree > (0.97 if kind == "trt" else 0.99), agree
