"""The rule engine on hand-built sequences (time, fractions) → events; rule validation is one line naming the key."""

from __future__ import annotations

import pytest

from edgeseg.errors import ConfigError
from edgeseg.service.rules import RuleEngine, check_rules, parse_rules

DOOR = {"name": "person_at_door", "zone": "door", "class": "person", "above": 0.02, "for_s": 1.0}


def _feed(engine, seq):
    """[(t, share of person in door)] → [(t, state)] of the events."""
    out = []
    for t, v in seq:
        out += [(t, e["state"]) for e in engine.feed(t, {"person": 0.0}, {"door": {"person": v}})]
    return out


def test_fires_after_holding_for_s_and_clears_after_false_for_s():
    engine = RuleEngine(parse_rules([DOOR]), zones=["door"])
    seq = [(0.0, 0.0), (0.5, 0.05), (1.0, 0.05), (1.4, 0.05), (1.5, 0.05), (1.6, 0.05),  # above since 0.5
           (2.0, 0.01), (2.5, 0.01), (2.9, 0.01), (3.0, 0.01), (3.5, 0.0)]  # at/below since 2.0
    assert _feed(engine, seq) == [(1.5, "on"), (3.0, "off")]
    assert engine.active == {"person_at_door": False}


def test_a_blip_shorter_than_for_s_fires_nothing_and_restarts_the_wait():
    engine = RuleEngine(parse_rules([DOOR]), zones=["door"])
    seq = [(0.0, 0.05), (0.9, 0.05), (1.0, 0.0), (1.1, 0.05), (2.0, 0.05), (2.1, 0.05)]
    assert _feed(engine, seq) == [(2.1, "on")]
    # on: a short dip does not clear it either
    assert _feed(engine, [(2.5, 0.0), (3.0, 0.03), (3.2, 0.0), (4.1, 0.0), (4.2, 0.0)]) == [(4.2, "off")]


def test_clear_below_and_clear_for_s_give_hysteresis():
    rule = dict(DOOR, clear_below=0.01, for_s=0, clear_for_s=0.5)
    engine = RuleEngine(parse_rules([rule]), zones=["door"])
    seq = [(0.0, 0.03), (0.1, 0.015), (0.2, 0.015), (1.0, 0.015),  # between the thresholds: stays on
           (1.1, 0.005), (1.5, 0.005), (1.6, 0.005)]
    assert _feed(engine, seq) == [(0.0, "on"), (1.6, "off")]


def test_event_content_and_whole_frame_rules():
    rules = parse_rules([DOOR, {"name": "busy", "class": "car", "above": 0.5}])
    engine = RuleEngine(rules, camera="gate", zones=["door"])
    assert engine.feed(0.0, {"car": 0.6, "person": 0.0}, {"door": {"person": 0.0}}) == [
        {"rule": "busy", "state": "on", "class": "car", "zone": None, "value": 0.6, "held_s": 0.0}]
    events = engine.feed(1.0, {"car": 0.6}, {"door": {"person": 0.1}}) + \
        engine.feed(2.25, {"car": 0.6}, {"door": {"person": 0.1}})
    assert events == [{"rule": "person_at_door", "state": "on", "class": "person", "zone": "door", "value": 0.1,
                       "held_s": 1.25}]


def test_rules_apply_to_their_cameras_and_zones():
    rules = parse_rules([DOOR, {"name": "yard_car", "class": "car", "above": 0.1, "cameras": ["yard"]}])
    assert [r.name for r in RuleEngine(rules, camera="gate", zones=["door"]).rules] == ["person_at_door"]
    assert [r.name for r in RuleEngine(rules, camera="yard", zones=[]).rules] == ["yard_car"]
    assert RuleEngine(rules, camera="dock", zones=[]).rules == []


CLASSES = ["road", "car", "person"]
BAD = [
    ([dict(DOOR, above=1.5)], "mqtt.rules.person_at_door.above: must be a number in [0, 1] (got 1.5)"),
    ([dict(DOOR, above="x")], "mqtt.rules.person_at_door.above: must be a number"),
    ([{k: v for k, v in DOOR.items() if k != "above"}], "mqtt.rules.person_at_door.above: missing"),
    ([{k: v for k, v in DOOR.items() if k != "class"}], "mqtt.rules.person_at_door.class: missing"),
    ([dict(DOOR, clear_below=0.05)], "mqtt.rules.person_at_door.clear_below: must not exceed above (0.02)"),
    ([dict(DOOR, for_s=-1)], "mqtt.rules.person_at_door.for_s: must be a number in [0, 86400]"),
    ([dict(DOOR, colour="red")], "mqtt.rules.person_at_door.colour: unknown key"),
    ([dict(DOOR, name="a b")], "mqtt.rules[0].name: must be letters, digits"),
    ([DOOR, "x"], "mqtt.rules[1]: must be a table"),
    ([DOOR, DOOR], "mqtt.rules.person_at_door.name: used by two rules"),
    ([dict(DOOR, cameras="gate")], "mqtt.rules.person_at_door.cameras: must be a list of camera names"),
    ({"a": 1}, "mqtt.rules: must be a list of tables"),
]


@pytest.mark.parametrize("items,message", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_bad_rule_is_one_line_naming_the_key(items, message):
    with pytest.raises(ConfigError) as err:
        parse_rules(items, where="edgeseg.toml: ")
    assert str(err.value).startswith(f"edgeseg.toml: {message}")
    assert len(str(err.value).splitlines()) == 1


CHECKS = [
    ([dict(DOOR, **{"class": "pedestrian"})], {"gate": ["door"]},
     "mqtt.rules.person_at_door.class: unknown class 'pedestrian' (known: road, car, person)"),
    ([dict(DOOR, zone="gate")], {"gate": ["door"], "yard": []},
     "mqtt.rules.person_at_door.zone: no camera has a zone 'gate' (zones: door)"),
    ([dict(DOOR, cameras=["yard"])], {"gate": ["door"], "yard": []},
     "mqtt.rules.person_at_door.zone: camera 'yard' has no zone 'door' (its zones: none)"),
    ([dict(DOOR, cameras=["dock"])], {"gate": ["door"]},
     "mqtt.rules.person_at_door.cameras: unknown camera 'dock' (known: gate)"),
]


@pytest.mark.parametrize("items,zones,message", CHECKS, ids=["class", "zone", "camera-zone", "camera"])
def test_unknown_class_zone_or_camera_is_one_line_naming_the_rule_key(items, zones, message):
    with pytest.raises(ConfigError) as err:
        check_rules(parse_rules(items), classes=CLASSES, zones=zones, where="edgeseg.toml: ")
    assert str(err.value) == f"edgeseg.toml: {message}"


def test_valid_rules_pass_the_check():
    check_rules(parse_rules([DOOR, {"name": "busy", "class": "car", "above": 0.5}]), classes=CLASSES,
                zones={"gate": ["door"], "yard": []})
    # before the model is loaded (config parsing) only zones and cameras are checked
    check_rules(parse_rules([dict(DOOR, **{"class": "anything"})]), classes=None, zones={"gate": ["door"]})
    with pytest.raises(ConfigError, match="no camera has a zone 'door'"):
        check_rules(parse_rules([DOOR]), classes=None, zones={"gate": []})
