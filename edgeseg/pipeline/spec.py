"""One frozen settings object for how a stream is segmented: what `run`, `serve`, `bench` and the library share.

Usage: ``spec = SegmentSpec(mode="interp", keyframe_interval=10, fusion="photometric")``

Its fields are the CLI's flags (``--keyframe-interval`` ↔ keyframe_interval) and the service's camera keys
(``keyframe_interval = 10`` in edgeseg.toml) one to one. Invalid values raise ConfigError with one line.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from edgeseg.errors import ConfigError
from edgeseg.limits import SPEC as SPEC_LIMITS
from edgeseg.limits import check_motion_stride
from edgeseg.pipeline.interpolate import FUSIONS
from edgeseg.pipeline.modes import MODES, ModePlan
from edgeseg.pipeline.propagate import PROPAGATIONS
from edgeseg.schedule import POLICIES, KeyframePolicy, make_policy

SPACES = ("auto", "features", "scores")  # what non-keyframes warp: auto = scores where that is exact
CORRECT_ERROR = 24.0  # the correction's default trigger: a tile's mean L1 RGB mismatch (0…765)


@dataclass(frozen=True, kw_only=True)
class SegmentSpec:
    """How one stream is segmented (modes: README and edgeseg.pipeline.modes; the rest: each field's comment).
    The names of mode, keyframes, fusion and propagation are those of their registries (MODES, POLICIES,
    FUSIONS, PROPAGATIONS); ``plan`` is the mode unpacked with this spec's settings."""

    mode: str = "interp"  # frame | prop | interp | reuse | flow (edgeseg.pipeline.modes)
    keyframe_interval: int = 10  # fixed keyframes: every K frames; adaptive: the budget 1/K by default
    keyframes: str = "fixed"  # fixed | adaptive
    keyframe_budget: float | None = None  # adaptive: average share of keyframes (default 1/K)
    max_keyframe_interval: int | None = None  # adaptive: longest gap (default 1.2 / budget)
    iframe_keys: bool = True  # also make I-frames and scene cuts keyframes
    fusion: str = "photometric"  # interp: photometric | linear (the paper's interp-mv)
    space: str = "auto"  # what non-keyframes warp: features, class scores, or auto (scores where exact)
    warp_stride: int | None = None  # score space: warp on a grid of this many video pixels (None: features')
    propagation: str = "compose"  # prop: compose | step
    motion_stride: int = 16  # the motion field's cell size in video pixels
    fill_rounds: int = 4  # motion-field holes filled from neighbours for this many rounds
    guide: bool = True  # labels follow the frame's own pixels where its scores sit off their colours
    correct: float | None = None  # non-keyframes: share of the frame the feature network may redo, (0, 1]
    correct_error: float = CORRECT_ERROR  # correction: a tile's mean L1 RGB mismatch that triggers it

    def __post_init__(self):
        MODES.get(self.mode)
        POLICIES.get(self.keyframes)
        FUSIONS.get(self.fusion)
        if self.space not in SPACES:
            raise ConfigError(f"space {self.space!r}: unknown; choose from {', '.join(SPACES)}")
        PROPAGATIONS.get(self.propagation, option=True)
        for name, limit in SPEC_LIMITS.items():
            value = getattr(self, name)
            if value is not None:
                limit.check(name, value)
        check_motion_stride("motion_stride", self.motion_stride)

    @classmethod
    def from_mapping(cls, values: dict, *, where: str = "") -> SegmentSpec:
        """A spec from {field: value} (a TOML table, CLI options); unknown keys are a one-line error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{where}{unknown[0]!r}: unknown setting; choose from {', '.join(sorted(names))}")
        return cls(**values)

    def replace(self, **changes) -> SegmentSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @functools.cached_property
    def plan(self) -> ModePlan:
        """The mode unpacked (edgeseg.pipeline.modes): motion source, propagation or hold-and-fuse, resolved with
        this spec's propagation and fusion; resolved once per spec."""
        return MODES.get(self.mode).resolve(propagation=self.propagation, fusion=self.fusion)

    @property
    def needs_vectors(self) -> bool:
        """Whether the mode uses block motion (frame and flow modes do not: their sources skip the MV export)."""
        return self.plan.motion == "vectors"

    def policy(self) -> KeyframePolicy:
        """A new keyframe policy for one stream (policies keep per-stream state)."""
        return make_policy(self.keyframes, interval=self.keyframe_interval, budget=self.keyframe_budget,
                           max_interval=self.max_keyframe_interval, at_iframes=self.iframe_keys)
