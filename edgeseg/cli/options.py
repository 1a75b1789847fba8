"""The segmenter's settings as CLI flags, one per SegmentSpec field, shared by the commands that segment. The
choices of --mode, --keyframes, --fusion and --propagation are their registries' names (read when click asks).
The outputs' flags likewise, one per OutputSpec field.

Usage::

    @click.command()
    @spec_options
    @output_options
    def run(spec, outputs, **options): ...
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import click

from edgeseg.cli.choices import RegistryChoice
from edgeseg.limits import ALPHA, MOTION_STRIDES, OVERLAY_SCALE, SPEC
from edgeseg.pipeline.interpolate import FUSIONS
from edgeseg.pipeline.modes import MODES
from edgeseg.pipeline.propagate import PROPAGATIONS
from edgeseg.pipeline.spec import CORRECT_ERROR, SPACES, SegmentSpec
from edgeseg.schedule import POLICIES
from edgeseg.sink.outputs import OutputSpec

# flag → SegmentSpec field: each option's dest is the field's name (a test checks the two stay one to one)
_OPTIONS = [
    click.option("--mode", type=RegistryChoice(MODES), default="interp", show_default=True,
                 help="interp/prop: block-motion features; frame: full model every frame; reuse, flow: baselines."),
    click.option("--keyframe-interval", "-k", type=SPEC["keyframe_interval"].click(), default=10, show_default=True,
                 help="Frames between keyframes (the feature network runs on keyframes)."),
    click.option("--keyframes", type=RegistryChoice(POLICIES), default="fixed", show_default=True,
                 help="fixed: every K frames; adaptive: placed by motion/intra signals under --keyframe-budget."),
    click.option("--keyframe-budget", type=SPEC["keyframe_budget"].click(), default=None,
                 help="adaptive: average fraction of keyframes (default 1/K)."),
    click.option("--max-keyframe-interval", type=SPEC["max_keyframe_interval"].click(), default=None,
                 help="adaptive: longest gap between keyframes (default 1.2 / budget)."),
    click.option("--iframe-keys/--no-iframe-keys", default=True, show_default=True,
                 help="Also make I-frames and scene cuts keyframes."),
    click.option("--fusion", type=RegistryChoice(FUSIONS), default="photometric", show_default=True,
                 help="interp: blend weights. photometric weighs each keyframe per cell by how well its warped "
                      "pixels match the frame; linear: by the frame's place in the gap only (the paper's "
                      "interp-mv; a little faster, less accurate)."),
    click.option("--space", type=click.Choice(SPACES), default="auto", show_default=True,
                 help="What non-keyframes warp: features, class scores, or auto (scores where that is exact)."),
    click.option("--warp-stride", type=SPEC["warp_stride"].click(), default=None,
                 help="When class scores are warped (--space scores, or auto where exact): warp them on a grid "
                      "with one cell per this many video pixels instead of the feature grid (8: finer and "
                      "slower; larger: coarser). No effect on feature-space warping."),
    click.option("--propagation", type=RegistryChoice(PROPAGATIONS, option=True), default="compose",
                 show_default=True,
                 help="prop: compose positions back to the keyframe, or warp step by step."),
    click.option("--motion-stride", type=click.Choice([str(s) for s in MOTION_STRIDES]), default="16",
                 show_default=True, callback=lambda ctx, param, value: int(value),
                 help="Cell size of the motion field in video pixels."),
    click.option("--fill-rounds", type=SPEC["fill_rounds"].click(), default=4, show_default=True,
                 help="Rounds of filling motion-field holes from their neighbours."),
    click.option("--guide/--no-guide", default=True, show_default=True,
                 help="Upsample class scores to labels guided by each frame's own pixels (cells weigh less where "
                      "the colour their scores came with differs from the pixel's)."),
    click.option("--correct", type=SPEC["correct"].click(), default=None, metavar="BUDGET",
                 help="Non-keyframes: rerun the feature network on the tiles where the frame's pixels disagree "
                      "with the keyframes' carried along, on at most this share of the frame, (0, 1]."),
    click.option("--correct-error", type=SPEC["correct_error"].click(), default=CORRECT_ERROR, show_default=True,
                 help="Correction: a tile's mean L1 RGB mismatch (0-765) that triggers it."),
]


def spec_options(command):
    """Add the spec's flags to a click command; it receives them as one `spec` argument (a SegmentSpec)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        fields = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(SegmentSpec)}
        return command(*args, spec=SegmentSpec(**fields), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper



# flag → OutputSpec field, one to one (a test checks it); the outputs of `run` (batch and serve name them too)
_OUTPUT_OPTIONS = [
    click.option("--overlay", type=click.Path(path_type=Path), default=None,
                 help="Write a colour overlay video (.mp4)."),
    click.option("--masks", type=click.Path(path_type=Path), default=None,
                 help="Write label masks here, one PNG per frame: frame-000000.png, …"),
    click.option("--stats", type=click.Path(path_type=Path), default=None, help="Write one JSON line per frame."),
    click.option("--label-video", type=click.Path(path_type=Path), default=None,
                 help="Write the labels as one lossless video: .avi (JPEG-LS, fast) or .mkv (FFV1, smallest); "
                      "edgeseg.sink.read_labels reads it back."),
    click.option("--alpha", type=ALPHA.click(), default=0.5, show_default=True, help="Overlay opacity."),
    click.option("--overlay-scale", type=OVERLAY_SCALE.click(), default=1.0, show_default=True,
                 help="Overlay size relative to the input (e.g. 0.5 for a preview)."),
    click.option("--zones", type=click.Path(path_type=Path), default=None,
                 help="Zones file (TOML, [zones.NAME] points = [[x, y], ...]): each --stats line also carries "
                      "the class fractions of every zone."),
]


def output_options(command):
    """Add the outputs' flags to a click command; it receives them as one `outputs` argument (an OutputSpec)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        fields = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(OutputSpec)}
        if fields["zones"] is not None:
            from edgeseg.errors import ConfigError
            from edgeseg.sink.zones import load_zones

            if fields["stats"] is None:
                raise ConfigError(f"--zones {fields['zones']}: zone fractions go into the stats; add --stats FILE")
            fields["zones"] = load_zones(fields["zones"])
        return command(*args, outputs=OutputSpec(**fields), **kwargs)

    for option in reversed(_OUTPUT_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
