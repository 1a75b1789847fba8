"""Threshold rules on class fractions, with hysteresis: "pedestrian above 2 % of zone door for 1 s" → on, … → off.

Usage::

    rules = parse_rules([{"name": "person_at_door", "zone": "door", "class": "pedestrian", "above": 0.02,
                          "for_s": 1.0}], where="edgeseg.toml: ")
    check_rules(rules, classes=bundle.classes, zones={"gate": ["door"], "yard": []})  # unknown class/zone: error
    engine = RuleEngine(rules, camera="gate", zones=["door"])
    engine.feed(t, {"pedestrian": 0.03}, {"door": {"pedestrian": 0.05}})  # → [{"rule": …, "state": "on", …}]

A rule turns "on" once its value (the class's share of the zone, or of the frame without a zone) has stayed
above `above` for `for_s` seconds, and "off" once it has stayed at or below `clear_below` (default: `above`)
for `clear_for_s` seconds (default: `for_s`). The engine is pure: time comes in with the fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.errors import ConfigError
from edgeseg.sink.zones import NAME

_DAY = 86400.0
_KEYS = ("name", "class", "zone", "above", "clear_below", "for_s", "clear_for_s", "cameras")


@dataclass(frozen=True, kw_only=True)
class Rule:
    name: str
    cls: str  # the TOML key is `class`
    zone: str | None = None  # None: the class's share of the whole frame
    above: float
    clear_below: float
    for_s: float = 0.0
    clear_for_s: float = 0.0
    cameras: tuple[str, ...] = ()  # empty: every camera (that has the zone)

    def applies_to(self, camera: str, zones) -> bool:
        return (not self.cameras or camera in self.cameras) and (self.zone is None or self.zone in zones)


def _number(table: dict, key: str, where: str, lo: float, hi: float, default=None) -> float:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}.{key}: missing (a number in [{lo:g}, {hi:g}])")
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ConfigError(f"{where}.{key}: must be a number in [{lo:g}, {hi:g}] (got {value!r})")
    return float(value)


def _rule(table, index: int, where: str) -> Rule:
    key = f"{where}mqtt.rules[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{key}: must be a table {{name = ..., class = ..., above = ...}} (got {table!r})")
    name = table.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"{key}.name: must be letters, digits, _ and - (1 to 64) (got {name!r})")
    key = f"{where}mqtt.rules.{name}"
    for k in table:
        if k not in _KEYS:
            raise ConfigError(f"{key}.{k}: unknown key (known: {', '.join(_KEYS)})")
    for k in ("class", "zone"):
        if k in table and not (isinstance(table[k], str) and table[k]):
            raise ConfigError(f"{key}.{k}: must be a non-empty string (got {table[k]!r})")
    if "class" not in table:
        raise ConfigError(f"{key}.class: missing (a class of the model)")
    above = _number(table, "above", key, 0.0, 1.0)
    clear = _number(table, "clear_below", key, 0.0, 1.0, default=above)
    if clear > above:
        raise ConfigError(f"{key}.clear_below: must not exceed above ({above:g}) (got {clear:g})")
    for_s = _number(table, "for_s", key, 0.0, _DAY, default=0.0)
    cams = table.get("cameras", [])
    if not isinstance(cams, list) or not all(isinstance(c, str) for c in cams):
        raise ConfigError(f"{key}.cameras: must be a list of camera names (got {cams!r})")
    return Rule(name=name, cls=table["class"], zone=table.get("zone"), above=above, clear_below=clear,
                for_s=for_s, clear_for_s=_number(table, "clear_for_s", key, 0.0, _DAY, default=for_s),
                cameras=tuple(cams))


def parse_rules(items, *, where: str = "") -> tuple[Rule, ...]:
    """Validate `rules = [{...}, ...]` of [mqtt]; where: "FILE: " for the messages. Names must be unique."""
    if not isinstance(items, list):
        raise ConfigError(f"{where}mqtt.rules: must be a list of tables (got {items!r})")
    rules = tuple(_rule(t, i, where) for i, t in enumerate(items))
    seen = set()
    for r in rules:
        if r.name in seen:
            raise ConfigError(f"{where}mqtt.rules.{r.name}.name: used by two rules")
        seen.add(r.name)
    return rules


def check_rules(rules, *, classes, zones: dict[str, list[str]], where: str = "") -> None:
    """Each rule's class is a class of the model (classes None: not checked, the model is not loaded yet), its
    cameras exist, and its zone exists: in every camera it names, or without `cameras` in at least one.
    zones: {camera: its zone names}."""
    for r in rules:
        key = f"{where}mqtt.rules.{r.name}"
        if classes is not None and r.cls not in classes:
            raise ConfigError(f"{key}.class: unknown class {r.cls!r} (known: {', '.join(classes)})")
        for cam in r.cameras:
            if cam not in zones:
                raise ConfigError(f"{key}.cameras: unknown camera {cam!r} (known: {', '.join(sorted(zones))})")
        if r.zone is None:
            continue
        for cam in r.cameras:
            if r.zone not in zones[cam]:
                raise ConfigError(f"{key}.zone: camera {cam!r} has no zone {r.zone!r} "
                                  f"(its zones: {', '.join(zones[cam]) or 'none'})")
        if not r.cameras and not any(r.zone in z for z in zones.values()):
            known = sorted({z for names in zones.values() for z in names})
            raise ConfigError(f"{key}.zone: no camera has a zone {r.zone!r} (zones: {', '.join(known) or 'none'})")


class RuleEngine:
    """The rules that apply to one camera and their state; feed() → the events that the new values cause."""

    def __init__(self, rules, *, camera: str = "", zones=()):
        self.rules = [r for r in rules if r.applies_to(camera, zones)]
        self.active = {r.name: False for r in self.rules}
        self._since: dict[str, float | None] = {r.name: None for r in self.rules}  # when the pending change began

    def feed(self, t: float, fractions: dict, zones: dict | None = None) -> list[dict]:
        """Events at time t (seconds, any monotonic clock): {"rule", "state": "on"/"off", "class", "zone",
        "value", "held_s"} for each rule that changed state."""
        events = []
        for r in self.rules:
            shares = fractions if r.zone is None else (zones or {}).get(r.zone)
            if shares is None:
                continue
            value = shares.get(r.cls, 0.0)
            on = self.active[r.name]
            changing = value <= r.clear_below if on else value > r.above
            if not changing:
                self._since[r.name] = None
                continue
            since = self._since[r.name]
            if since is None:
                since = self._since[r.name] = t
            if t - since >= (r.clear_for_s if on else r.for_s):
                self.active[r.name], self._since[r.name] = not on, None
                events.append({"rule": r.name, "state": "off" if on else "on", "class": r.cls, "zone": r.zone,
                               "value": value, "held_s": round(t - since, 3)})
        return events
