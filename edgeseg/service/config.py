"""`edgeseg serve` configuration: one TOML file, validated as a whole; every error names the key.

Usage: ``cfg = load_config("edgeseg.toml"); cfg.cameras["front"].keyframe_interval``

Layout: ``[model]``, ``[defaults]`` (any camera key), one ``[cameras.NAME]`` table per stream (``uri`` plus
overrides), ``[metrics]``, ``[service]``. See jetson/edgeseg.toml for a documented example.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgeseg.backend.open import backend_choices
from edgeseg.errors import ConfigError
from edgeseg.limits import ALPHA, MOTION_STRIDES, OVERLAY_SCALE, SPEC, THREADS, TIMEOUT_S, Range
from edgeseg.pipeline.interpolate import FUSIONS
from edgeseg.pipeline.modes import MODES
from edgeseg.pipeline.propagate import PROPAGATIONS
from edgeseg.pipeline.spec import SPACES, SegmentSpec
from edgeseg.schedule import POLICIES
from edgeseg.service.liveview import check_exposure
from edgeseg.service.mqttconfig import MqttConfig, parse_mqtt
from edgeseg.service.rules import check_rules
from edgeseg.sink.outputs import OutputSpec
from edgeseg.sink.zones import Zones, load_zones
from edgeseg.system.toml import read_toml

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The one model every camera shares. bundle None = the shipped reference model."""

    bundle: str | None = None
    backend: str = "auto"
    threads: int | None = None
    max_batch: int = 8  # most keyframes in one feature call
    # how long a keyframe waits for others to join its batch; 0: batch only the calls that queued up while the
    # model was busy (no added latency; on CPU waiting costs more than batching saves, see docs/DECISIONS.md)
    batch_wait_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class CameraConfig:
    """One stream and its outputs (defaults merged in). Outputs go to output_dir/NAME/.

    spec: how it is segmented; its fields are camera keys of their own (mode = "interp", keyframe_interval = 10).
    """

    name: str = ""
    uri: str = ""
    spec: SegmentSpec = field(default_factory=SegmentSpec)
    output_dir: str = "edgeseg-out"  # relative: to the config file's directory
    overlay: bool = True
    stats: bool = True
    masks: bool = False
    label_video: bool = False  # the lossless label video (JPEG-LS .avi), one per segment
    alpha: float = 0.5
    overlay_scale: float = 1.0  # overlay size relative to the stream (e.g. 0.5 for a preview)
    segment_seconds: float = 600.0  # length of each overlay/stats file
    retention_hours: float = 72.0  # 0 = keep forever
    retention_mb: float = 0.0  # per camera; 0 = no size cap
    audit_seconds: float = 0.0  # full-model check every N s; 0 = off
    timeout_s: float = 10.0  # connect/read timeout (RTSP, cameras)
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    max_lag_s: float = 2.0  # live: skip frames while output lags the stream by more; 0 = never skip
    loop: bool = False  # files: start again at the end (test rigs, soak runs)
    realtime: bool = False  # files: pace frames at the clip's frame rate like a live camera
    zones: Zones | None = None  # named polygons (the key: a TOML file relative to the config)

    @property
    def outputs(self) -> OutputSpec:
        """The camera's outputs for the shared output layer (True: named per segment by RollingOutputs)."""
        return OutputSpec(masks=True if self.masks else None, stats=True if self.stats else None,
                          overlay=True if self.overlay else None, label_video=True if self.label_video else None,
                          alpha=self.alpha, overlay_scale=self.overlay_scale, zones=self.zones)

    @property
    def out(self) -> Path:
        return Path(self.output_dir) / self.name


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9108
    live_view: bool = True  # GET / : the cameras' live page (edgeseg.service.liveview)
    token: str | None = None  # required when host is not a loopback address
    preview_width: int = 640
    preview_fps: float = 5.0


@dataclass(frozen=True, kw_only=True)
class ServiceOptions:
    stall_seconds: float = 30.0  # a connected stream with no frame for this long is stalled (no watchdog)
    stop_timeout_s: float = 10.0  # SIGTERM: most time spent flushing before exit
    health_interval_s: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    path: Path
    model: ModelConfig
    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    service: ServiceOptions = field(default_factory=ServiceOptions)
    mqtt: MqttConfig | None = None


# per key: (type check, description for the message); numeric keys take their range from edgeseg.limits
def _range(limit: Range):
    return limit.ok, limit.describe()


def _num(lo, hi, *, strict=False):
    return _range(Range(lo, hi, lo_open=strict))


_BOOL = (lambda v: isinstance(v, bool)), "true or false"
_STR = (lambda v: isinstance(v, str) and v != ""), "a non-empty string"


class _OneOf:
    """The names a key accepts, read when a value is checked (registries: entries registered after import too)."""

    def __init__(self, names):
        self.names = names  # () → the accepted values

    def __call__(self, value) -> bool:
        return not isinstance(value, bool) and value in self.names()

    def __str__(self) -> str:
        return "one of " + ", ".join(map(str, self.names()))


def _choice(names):
    """A key whose value is one of names() (a callable: a registry's names) or of a fixed collection."""
    one_of = _OneOf(names if callable(names) else lambda: names)
    return one_of, one_of


_DAY = 86400.0
_MODEL_KEYS = {"bundle": _STR, "backend": _choice(backend_choices), "threads": _range(THREADS),
               "max_batch": _range(Range(1, 256, integer=True)), "batch_wait_ms": _num(0, 10_000)}
# the segmenter's settings: one key per SegmentSpec field (a test checks that they stay one to one)
_SPEC_KEYS = {
    # modes that need an optional module (flow: OpenCV) are not offered: service boxes do not carry the extras
    "mode": _choice(lambda: MODES.names(needs=None)), "keyframe_interval": _range(SPEC["keyframe_interval"]),
    "keyframes": _choice(POLICIES.names),
    "keyframe_budget": _range(SPEC["keyframe_budget"]),
    "max_keyframe_interval": _range(SPEC["max_keyframe_interval"]), "iframe_keys": _BOOL,
    "fusion": _choice(FUSIONS.names), "space": _choice(SPACES), "warp_stride": _range(SPEC["warp_stride"]),
    "propagation": _choice(lambda: PROPAGATIONS.names(option=True)), "motion_stride": _choice(MOTION_STRIDES),
    "fill_rounds": _range(SPEC["fill_rounds"]), "guide": _BOOL, "correct": _range(SPEC["correct"]),
    "correct_error": _range(SPEC["correct_error"]),
}
_CAMERA_KEYS = {
    **_SPEC_KEYS, "output_dir": _STR, "overlay": _BOOL, "stats": _BOOL, "masks": _BOOL, "label_video": _BOOL,
    "alpha": _range(ALPHA), "overlay_scale": _range(OVERLAY_SCALE), "segment_seconds": _num(1, _DAY),
    "retention_hours": _num(0, 24 * 3650), "retention_mb": _num(0, 1e9), "audit_seconds": _num(0, _DAY),
    "timeout_s": _range(TIMEOUT_S), "reconnect_min_s": _num(0, 3600, strict=True),
    "reconnect_max_s": _num(0, 3600, strict=True), "max_lag_s": _num(0, 3600), "loop": _BOOL, "realtime": _BOOL,
    "zones": _STR,
}
_METRICS_KEYS = {"enabled": _BOOL, "host": _STR, "port": _range(Range(0, 65535, integer=True)),
                 "live_view": _BOOL, "token": _STR, "preview_width": _range(Range(64, 3840, integer=True)),
                 "preview_fps": _num(0, 30, strict=True)}
_SERVICE_KEYS = {"stall_seconds": _num(0, _DAY, strict=True), "stop_timeout_s": _num(0, 3600, strict=True),
                 "health_interval_s": _num(0, 3600, strict=True)}


def _table(path, data, key: str, spec: dict) -> dict:
    """Check a table's keys and values against spec; returns it (a missing table is empty)."""
    table = data.get(key, {}) if "." not in key else data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {key}: must be a table")
    for k, v in table.items():
        if k not in spec:
            raise ConfigError(f"{path}: {key}.{k}: unknown key (known: {', '.join(sorted(spec))})")
        ok, what = spec[k]
        if not ok(v):
            raise ConfigError(f"{path}: {key}.{k}: must be {what} (got {v!r})")
    return dict(table)


def parse_config(data: dict, *, path: str | Path = "<config>") -> ServiceConfig:
    """Validate a parsed TOML document; raises ConfigError naming the first bad key."""
    path = Path(path)
    known = {"model", "defaults", "cameras", "metrics", "service", "mqtt"}
    for k in data:
        if k not in known:
            raise ConfigError(f"{path}: {k}: unknown table (known: {', '.join(sorted(known))})")
    base = path.parent  # relative paths in the file are relative to the file
    model = _table(path, data, "model", _MODEL_KEYS)
    if "bundle" in model:
        model["bundle"] = str(base / model["bundle"])
    model = ModelConfig(**model)
    defaults = _table(path, data, "defaults", _CAMERA_KEYS)
    cams = data.get("cameras")
    if not isinstance(cams, dict) or not cams:
        raise ConfigError(f"{path}: cameras: at least one [cameras.NAME] table with a uri is required")
    cameras = {}
    for name, table in cams.items():
        key = f"cameras.{name}"
        if not _NAME.match(name):
            raise ConfigError(f"{path}: {key}: camera names use letters, digits, _ and - only (1 to 64)")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {key}: must be a table")
        if "uri" not in table:
            raise ConfigError(f"{path}: {key}.uri: missing (a file, rtsp:// URL or cameraN)")
        uri = table["uri"]
        if not _STR[0](uri):
            raise ConfigError(f"{path}: {key}.uri: must be a non-empty string (got {uri!r})")
        rest = _table(path, {k: v for k, v in table.items() if k != "uri"}, key, _CAMERA_KEYS)
        merged = {**defaults, **rest}
        merged["output_dir"] = str(base / merged.get("output_dir", CameraConfig.output_dir))
        if "zones" in merged:
            try:
                merged["zones"] = load_zones(base / merged["zones"])
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}.zones: {exc}") from None
        try:
            spec = SegmentSpec(**{k: merged.pop(k) for k in _SPEC_KEYS if k in merged})
        except ConfigError as exc:
            raise ConfigError(f"{path}: {key}: {exc}") from None
        cam = CameraConfig(name=name, uri=uri, spec=spec, **merged)
        if cam.reconnect_min_s > cam.reconnect_max_s:
            where = "reconnect_min_s" if "reconnect_min_s" in rest else "reconnect_max_s"
            raise ConfigError(f"{path}: {key}.{where}: reconnect_min_s ({cam.reconnect_min_s:g}) exceeds "
                              f"reconnect_max_s ({cam.reconnect_max_s:g})")
        cameras[name] = cam
    metrics = MetricsConfig(**_table(path, data, "metrics", _METRICS_KEYS))
    if metrics.enabled and metrics.live_view:
        check_exposure(metrics.host, metrics.token, where=f"{path}: ")
    service = ServiceOptions(**_table(path, data, "service", _SERVICE_KEYS))
    mqtt = parse_mqtt(data["mqtt"], where=f"{path}: ") if "mqtt" in data else None
    if mqtt is not None:  # the classes are checked when the model is loaded (Service.start)
        check_rules(mqtt.rules, classes=None, where=f"{path}: ",
                    zones={n: (c.zones.names if c.zones else []) for n, c in cameras.items()})
    return ServiceConfig(path=path, model=model, cameras=cameras, metrics=metrics, service=service, mqtt=mqtt)


def load_config(path: str | Path) -> ServiceConfig:
    """Read and validate a config file. Raises ConfigError (one line: file, key, problem)."""
    return parse_config(read_toml(path, what="config"), path=Path(path))


def camera_changed(a: CameraConfig, b: CameraConfig) -> bool:
    """Whether a reload must restart the camera's worker."""
    return dataclasses.astuple(a) != dataclasses.astuple(b)
