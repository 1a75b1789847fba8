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
