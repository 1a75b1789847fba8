"""GPU backends: features, warping and fusion stay on the device; labels match the CPU path."""

import numpy as np
import pytest

from edgeseg.backend.networks import DeviceNetworks, default_bundle_path, open_networks
from edgeseg.pipeline import SegmentSpec, build_segmenter, motion_pairs, open_for, run_stream

pytestmark = pytest.mark.gpu


def _run(nets, bundle, clip, mode, fusion="linear", **options):
    spec = SegmentSpec(mode=mode, keyframe_interval=5, fusion=fusion, **options)
    seg = build_segmenter(spec, nets=nets, bundle=bundle)
    out = {}
    with open_for(spec, str(clip.video)) as src:
        run_stream(motion_pairs(src, spec), seg, on_result=lambda r: out.__setitem__(r.frame.index, r.labels))
    return out, seg


@pytest.mark.parametrize("kind", ["ort-cuda", "trt"])
@pytest.mark.parametrize("mode", ["frame", "prop", "interp"])
def test_gpu_matches_cpu(street_clip, reference, kind, mode):
    from edgeseg.backend import available_kinds

    if kind not in available_kinds():
        pytest.skip(f"{kind} is not available here")
    gpu_nets, bundle = open_networks(default_bundle_path(), backend=kind)
    gpu, seg = _run(gpu_nets, bundle, street_clip, mode)
    assert isinstance(seg.nets, DeviceNetworks)
    assert type(seg._track.key).__module__.startswith("cupy")  # keyframe features live on the device
    cpu, _ = _run(*reference, street_clip, mode)
    agree = np.mean([np.mean(gpu[i] == cpu[i]) for i in cpu])
    assert agree > (0.97 if kind == "trt" else 0.99), agree


@pytest.mark.parametrize("kind", ["ort-cuda", "trt"])
def test_gpu_photometric_fusion_matches_cpu(street_clip, reference, kind):
    from edgeseg.backend import available_kinds

    if kind not in available_kinds():
        pytest.skip(f"{kind} is not available here")
    gpu_nets, bundle = open_networks(default_bundle_path(), backend=kind)
    gpu, seg = _run(gpu_nets, bundle, street_clip, "interp", fusion="photometric")
    assert type(seg._track.thumb).__module__.startswith("cupy")  # thumbnails and match errors on the device
    cpu, _ = _run(*reference, street_clip, "interp", fusion="photometric")
    agree = np.mean([np.mean(gpu[i] == cpu[i]) for i in cpu])
    assert agree > (0.97 if kind == "trt" else 0.99), agree


@pytest.mark.parametrize("kind", ["ort-cuda", "trt"])
@pytest.mark.parametrize("mode", ["prop", "interp"])
def test_gpu_correction_matches_cpu(street_clip, reference, kind, mode):
    """Tiles at one static size on the device (a TensorRT engine built for it) agree with ORT on the CPU."""
    from edgeseg.backend import available_kinds

    if kind not in available_kinds():
        pytest.skip(f"{kind} is not available here")
    options = {"correct": 0.25, "correct_error": 6.0}  # a low trigger: tiles on most non-keyframes
    gpu_nets, bundle = open_networks(default_bundle_path(), backend=kind)
    gpu, seg = _run(gpu_nets, bundle, street_clip, mode, **options)
    cpu, cpu_seg = _run(*reference, street_clip, mode, **options)
    assert seg.corrected_tiles > 0 and abs(seg.corrected_tiles - cpu_seg.corrected_tiles) <= 2
    agree = np.mean([np.mean(gpu[i] == cpu[i]) for i in cpu])
    assert agree > (0.97 if kind == "trt" else 0.99), agree


@pytest.mark.parametrize("step", [1, 2])
def test_guided_labels_cuda_twin_matches_the_cpu_kernel(street_clip, step):
    """The CUDA twin (pipeline/guide_cuda.py) gives the numba kernel's labels from device scores."""
    cupy = pytest.importorskip("cupy")
    from edgeseg.pipeline.guide import GuidedUpsampler
    from edgeseg.source import open_source

    rng = np.random.default_rng(3)
    with open_source(str(street_clip.video)) as src:
        frames = [f for _, f in zip(range(4), src, strict=False)]
    agree = []
    for frame in frames:
        up = GuidedUpsampler((45, 60), (frame.height, frame.width))
        coarse = rng.normal(size=(8, 12, 15)).astype(np.float32)
        scores = np.ascontiguousarray(coarse.repeat(4, axis=1).repeat(4, axis=2)[:, :45, :60])
        guide = frame.thumbnail(45, 60)
        cpu = up(scores, guide, frame, step=step)
        gpu = up(cupy.asarray(scores), cupy.asarray(guide), frame, step=step)
        assert isinstance(gpu, np.ndarray) and gpu.shape == cpu.shape and gpu.dtype == np.uint8
        agree.append(float((gpu == cpu).mean()))
    assert min(agree) >= 0.9999, agree
