"""Every optional dependency, blocked in turn: the real CLI prints one line naming the extra, exits 1, no
traceback; `serve --check` reports a missing service extra too."""

import subprocess
import sys
from pathlib import Path

import clips
import pytest

from edgeseg.system.extras import EXTRAS, MissingExtraError, available, require

BLOCK = str(Path(__file__).with_name("block_imports.py"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extras")
    clip = clips.translate_clip(tmp / "c.mp4", size=(160, 96), frames=6, shift_xy=(1.0, 0.0))
    config = tmp / "serve.toml"
    config.write_text(f'[cameras.front]\nuri = "{clip.path}"\noutput_dir = "{tmp / "out"}"\n')
    mqtt_config = tmp / "serve-mqtt.toml"
    mqtt_config.write_text(config.read_text() + '[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n')
    from edgeseg.backend.networks import default_bundle_path

    return {"clip": str(clip.path), "config": str(config), "out": str(tmp / "o"), "bundle": str(default_bundle_path()),
            "mqtt_config": str(mqtt_config)}


CASES = [
    ("prometheus_client", "service", ["serve", "--config", "{config}", "--check"]),
    ("prometheus_client", "service", ["serve", "--config", "{config}"]),
    ("paho", "mqtt", ["serve", "--config", "{mqtt_config}", "--check"]),
    ("cv2", "bench", ["run", "{clip}", "--mode", "flow"]),
    ("cv2", "bench", ["bench", "{clip}", "--modes", "frame,flow", "--intervals", "1"]),
    ("matplotlib", "bench", ["bench", "{clip}", "--modes", "frame", "--intervals", "1", "--plot", "{out}.png"]),
    ("torch", "export", ["export", "reference", "--out", "{out}"]),
    ("torchvision", "export", ["export", "reference", "--out", "{out}"]),
    ("onnx", "export", ["export", "reference", "--out", "{out}"]),
    ("onnxscript", "export", ["export", "reference", "--out", "{out}"]),
    ("tensorrt", "gpu", ["run", "{clip}", "--backend", "trt"]),
    ("tensorrt", "gpu", ["build-engines", "{bundle}"]),
    ("cupy", "gpu", ["run", "{clip}", "--backend", "ort-cuda"]),
]


@pytest.mark.parametrize("module,extra,argv", CASES, ids=[f"{m}-{a[0]}-{i}" for i, (m, _, a) in enumerate(CASES)])
def test_missing_extra_is_one_line_naming_it(files, module, extra, argv):
    args = [a.format(**files) for a in argv]
    res = subprocess.run([sys.executable, BLOCK, module, *args], capture_output=True, text=True, timeout=120)
    out = (res.stdout + res.stderr).strip()
    assert res.returncode == 1, out
    assert "Traceback" not in out and len(out.splitlines()) == 1, out
    assert out.startswith("Error:") and f"edgeseg[{extra}]" in out, out


def test_every_extra_module_is_covered():
    assert {m for m, _, _ in CASES} == set(EXTRAS)


def test_require_names_the_extra_and_passes_what_is_there():
    import numpy

    assert require("numpy", purpose="x") is numpy
    if not available("tensorrt"):
        with pytest.raises(MissingExtraError, match=r"TensorRT backend needs tensorrt: pip install 'edgeseg\[gpu\]'"):
            require("tensorrt", purpose="TensorRT backend")
