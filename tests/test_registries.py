"""One registry per extension point (modes, fusions, keyframe policies, propagations, backends): a toy of each,
registered from outside the package, is a choice of the CLI, the service's TOML and the bench, runs, and is gone
again once removed; the docs list every registered name; each mode is one typed plan."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import click
import numpy as np
import pytest
import tiny_bundle
from click.testing import CliRunner

from edgeseg.backend import BACKENDS, Backend, BackendKind, Runner, backend_choices, open_backend
from edgeseg.backend.networks import as_networks, open_networks
from edgeseg.bench.table import parse_fusions, parse_modes
from edgeseg.cli import main
from edgeseg.errors import ConfigError
from edgeseg.pipeline import FUSIONS, MODES, PROPAGATIONS, ModePlan, SegmentSpec, segment_frames
from edgeseg.pipeline.interpolate import LinearFusion
from edgeseg.pipeline.propagate import reuse
from edgeseg.registry import Registry
from edgeseg.schedule import POLICIES
from edgeseg.service.config import parse_config

ROOT = Path(__file__).resolve().parents[1]


class ToyFusion(LinearFusion):
    """interp's linear weights under another name: a fusion defined outside the package."""


class NumpyRunner(Runner):
    """tiny_bundle's networks in NumPy: the runner of a backend defined outside the package."""

    def __init__(self, net: str):
        self.net, self.closed = net, False
        self.inputs, self.outputs = (["image"], ["feature"]) if net == "feature" else (["feature"], ["scores"])

    def run(self, feeds: dict) -> dict:
        assert not self.closed
        x = feeds[self.inputs[0]]
        if self.net == "feature":
            return {"feature": tiny_bundle.reference(x)[0].astype(np.float32)}
        return {"scores": np.einsum("oc,nchw->nohw", tiny_bundle.W_TASK, x).astype(np.float32)}

    def close(self) -> None:
        self.closed = True


BUILDS: list = []


def _build_toy(bundle, *, precision, log):
    BUILDS.append(bundle.name)
    return {"precision": precision or "fp32"}


def _open_toy(kind, bundle, built, *, threads, precision):
    return Backend(kind=kind, feature=NumpyRunner("feature"), task=NumpyRunner("task"), task_labels=None,
                   bundle=bundle, precision=built["precision"], threads=threads)


TOY_BACKEND = BackendKind(name="toy-numpy", build=_build_toy, open=_open_toy)
TOY_GPU = BackendKind(name="toy-gpu", open=_open_toy, unavailable=lambda: "no toy GPU here", on_device=True)


@contextlib.contextmanager
def _toys():
    """A toy fusion, mode, propagation, two backends and a mode that needs an optional module."""
    with (FUSIONS.registered("toy-fusion", ToyFusion),
          MODES.registered("toy-mode", ModePlan(hold=True, fusion="linear")),  # interp with its fusion fixed
          MODES.registered("toy-cv", ModePlan(motion="flow"), needs="cv2"),
          PROPAGATIONS.registered("toy-prop", reuse),  # mode reuse's, offered as a --propagation choice
          BACKENDS.registered(TOY_BACKEND.name, TOY_BACKEND), BACKENDS.registered(TOY_GPU.name, TOY_GPU)):
        yield


@pytest.fixture
def toys():
    """The toys registered for one test."""
    with _toys():
        yield


def _choices(command: str, option: str) -> tuple:
    cmd = main.get_command(click.Context(main), command)
    return tuple(next(p for p in cmd.params if option in p.opts).type.choices)


def _config(**camera) -> dict:
    backend = camera.pop("backend", "auto")
    return {"model": {"backend": backend}, "cameras": {"a": {"uri": "a.mp4", **camera}}}


def test_registry_keeps_order_and_metadata_and_errors_in_one_line():
    reg = Registry("colour", warm=False)
    reg.register("red", 1, warm=True)
    reg.register("blue", 2)
    assert reg.names() == ("red", "blue") == tuple(reg) and "red" in reg and len(reg) == 2
    assert reg.names(warm=True) == ("red",) and reg.names(lambda entry: entry > 1) == ("blue",)
    assert reg.get("blue") == 2 and reg.meta("blue") == {"warm": False}
    with pytest.raises(ConfigError, match=r"^colour 'green': unknown; choose from red, blue$"):
        reg.get("green")
    with pytest.raises(ConfigError, match=r"^colour 'blue': unknown; choose from red$"):
        reg.get("blue", warm=True)
    with pytest.raises(ValueError, match="registered already"):
        reg.register("red", 3)
    with pytest.raises(TypeError, match="unknown metadata 'hot'"):
        reg.register("green", 3, hot=True)
    with reg.registered("green", 3):
        assert reg.names() == ("red", "blue", "green")
    assert "green" not in reg


def test_toys_are_choices_of_the_cli_the_service_and_the_bench(toys):
    assert _choices("run", "--mode")[-2:] == ("toy-mode", "toy-cv")
    assert _choices("run", "--fusion")[-1] == "toy-fusion" and _choices("run", "--propagation")[-1] == "toy-prop"
    for command in ("run", "bench", "batch"):
        assert _choices(command, "--backend") == ("auto", "trt", "ort-cuda", "ort-cpu", "toy-numpy", "toy-gpu")
    assert _choices("verify", "--backend") == ("trt", "ort-cuda", "toy-gpu")  # the kinds on a device
    run = main.get_command(click.Context(main), "run")
    ctx = run.make_context("run", ["clip.mp4", "--mode", "toy-mode", "--fusion", "toy-fusion", "--propagation",
                                   "toy-prop", "--backend", "toy-numpy"])
    assert (ctx.params["mode"], ctx.params["backend"]) == ("toy-mode", "toy-numpy")
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "toy-mode" in help_text and "toy-fusion" in help_text and "toy-numpy" in help_text

    cfg = parse_config(_config(mode="toy-mode", fusion="toy-fusion", propagation="toy-prop", backend="toy-numpy"))
    assert cfg.model.backend == "toy-numpy" and cfg.cameras["a"].spec.plan.fusion == "linear"
    with pytest.raises(ConfigError, match=r"cameras.a.mode: must be one of frame, prop, interp, reuse, toy-mode "):
        parse_config(_config(mode="toy-cv"))  # it needs OpenCV: service boxes lack it, as for flow

    assert parse_modes("frame,toy-mode,toy-cv") == ["frame", "toy-mode", "toy-cv"]
    assert parse_fusions("toy-fusion,linear") == ["toy-fusion", "linear"]


def test_removed_toys_are_no_choice_anywhere():
    with _toys():
        assert "toy-mode" in _choices("run", "--mode") and "toy-numpy" in backend_choices()
    assert "toy-mode" not in _choices("run", "--mode") and "toy-numpy" not in backend_choices()
    for camera, key in (({"mode": "toy-mode"}, "mode"), ({"fusion": "toy-fusion"}, "fusion"),
                        ({"propagation": "toy-prop"}, "propagation"), ({"backend": "toy-numpy"}, "backend")):
        with pytest.raises(ConfigError, match=f"{key}: must be one of"):
            parse_config(_config(**camera))
    with pytest.raises(ConfigError, match="--modes 'toy-mode': unknown mode 'toy-mode'"):
        parse_modes("toy-mode")
    with pytest.raises(ConfigError, match=r"^fusion 'toy-fusion': unknown; choose from linear, photometric$"):
        SegmentSpec(fusion="toy-fusion")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import clips

    d = tmp_path_factory.mktemp("toys")
    clip = clips.translate_clip(d / "clip.mp4", size=(96, 64), frames=10, shift_xy=(2.0, 1.0))
    return str(clip.path), open_networks(tiny_bundle.make(d / "b"), backend="ort-cpu", threads=1)


def _labels(uri, spec, nets, bundle) -> list[np.ndarray]:
    return [r.labels for r in segment_frames(uri, spec, nets=nets, bundle=bundle)]


def test_toy_mode_fusion_and_propagation_run_as_the_entries_they_copy(toys, tiny):
    uri, (nets, bundle) = tiny
    same = [({"mode": "toy-mode"}, {"mode": "interp", "fusion": "linear"}),
            ({"fusion": "toy-fusion"}, {"fusion": "linear"}),
            ({"mode": "prop", "propagation": "toy-prop"}, {"mode": "reuse"})]
    for toy, known in same:
        toy, known = SegmentSpec(keyframe_interval=4, **toy), SegmentSpec(keyframe_interval=4, **known)
        got, want = _labels(uri, toy, nets, bundle), _labels(uri, known, nets, bundle)
        assert len(got) == len(want) == 10
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)), (toy.mode, toy.fusion)


def test_toy_backend_builds_opens_runs_and_closes(toys, tiny):
    uri, (cpu, bundle) = tiny
    BUILDS.clear()
    with open_backend(bundle, TOY_BACKEND.name) as backend:
        assert BUILDS == [bundle.name] and backend.name == "toy-numpy" and not backend.on_device
        x = np.random.default_rng(0).standard_normal((2, 3, tiny_bundle.H, tiny_bundle.W)).astype(np.float32)
        np.testing.assert_allclose(backend.features(x), cpu.features(x), atol=1e-5)
        nets = as_networks(backend)
        labels = _labels(uri, SegmentSpec(keyframe_interval=4), nets, bundle)
        ref = _labels(uri, SegmentSpec(keyframe_interval=4), cpu, bundle)
        assert np.mean([np.mean(a == b) for a, b in zip(labels, ref, strict=True)]) > 0.99
    assert backend.feature.closed and backend.task.closed
    with pytest.raises(ConfigError, match=r"^backend toy-gpu: no toy GPU here$"):
        open_backend(bundle, TOY_GPU.name)


def test_each_mode_is_one_plan():
    plans = {name: SegmentSpec(mode=name, propagation="step", fusion="linear").plan for name in MODES}
    assert plans == {
        "frame": ModePlan(motion=None, every_frame_keyframe=True),
        "prop": ModePlan(propagation="step"),
        "interp": ModePlan(hold=True, fusion="linear"),
        "reuse": ModePlan(propagation="reuse"),
        "flow": ModePlan(motion="flow", propagation="step"),
    }
    assert [name for name in MODES if SegmentSpec(mode=name).needs_vectors] == ["prop", "interp", "reuse"]
    assert MODES.names(needs=None) == ("frame", "prop", "interp", "reuse")
    for bad in ({"motion": "gyro"}, {"motion": None}, {"motion": None, "every_frame_keyframe": True, "hold": True}):
        with pytest.raises(ValueError):
            ModePlan(**bad)


def _names_in(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def test_the_docs_list_every_registered_name():
    readme = (ROOT / "README.md").read_text().split("## Modes", 1)[1].split("\n\n", 2)[1]
    assert {_names_in(row.split("|")[1])[0] for row in readme.splitlines()[2:]} == set(MODES.names())

    registries = {"mode": MODES, "fusion (interp-like)": FUSIONS, "propagation (prop-like)": PROPAGATIONS,
                  "keyframe policy": POLICIES, "backend": BACKENDS}
    rows = {row.split("|")[1].strip(): row.split("|")[-2] for row in (ROOT / "docs" / "ARCHITECTURE.md")
            .read_text().splitlines() if row.startswith("| ") and row.split("|")[1].strip() in registries}
    assert {point: _names_in(cell) for point, cell in rows.items()} == {
        point: registry.names() for point, registry in registries.items()}

    toml = (ROOT / "jetson" / "edgeseg.toml").read_text()
    offered = {"mode": MODES.names(needs=None), "backend": backend_choices(), "keyframes": POLICIES.names(),
               "fusion": FUSIONS.names(), "propagation": PROPAGATIONS.names(option=True)}
    for key, names in offered.items():
        comment = re.search(rf"^#? ?{key} = \S+\s+# (.*)$", toml, re.M).group(1)
        assert len(comment.split("|")) == len(names) and all(re.search(rf"\b{n}\b", comment) for n in names), key
