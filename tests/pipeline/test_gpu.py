"""GPU backends: features, warping and fusion stay on the device; labels match the CPU path."""

import numpy as np
import pytest

from edgeseg.pipeline.networks import default_bundle_path, open_networks
from edgeseg.pipeline.run import run_stream
from edgeseg.pipeline.segmenter import DeviceNetworks, StreamSegmenter
from edgeseg.pipeline.session import motion_pairs
from edgeseg.schedule import FixedInterval
from edgeseg.source import open_source

pytestmark = pytest.mark.gpu


def _run(nets, bundle, clip, mode, fusion="linear"):
    seg = StreamSegmenter(nets, mode=mode, policy=FixedInterval(interval=5), model_hw=bundle.input_hw,
                          mean=bundle.mean, std=bundle.std, fusion=fusion)
    out = {}
    with open_source(str(clip.video)) as src:
        run_stream(motion_pairs(src, mode=mode), seg, on_result=lambda r: out.__setitem__(r.frame.index, r.labels))
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
    assert type(seg._key).__module__.startswith("cupy")  # keyframe features live on the device
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
    assert type(seg._thumb).__module__.startswith("cupy")  # thumbnails and match errors on the device
    cpu, _ = _run(*reference, street_clip, "interp", fusion="photometric")
    agree = np.mean([np.mean(gpu[i] == cpu[i]) for i in cpu])
    assert agree > (0.97 if kind == "trt" else 0.99), agree
