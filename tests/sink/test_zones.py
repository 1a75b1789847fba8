"""Zones: hand-built polygons and label maps with hand-counted fractions; normalized = pixels; every bad input
is one line naming the key and the file."""

from __future__ import annotations

import numpy as np
import pytest

from edgeseg.errors import ConfigError
from edgeseg.pipeline.result import Result
from edgeseg.sink.zones import ZoneCounter, load_zones, parse_zones, zone_fractions
from edgeseg.source.frame import Frame

CLASSES = ["road", "car", "person"]


def _zones(text: str, tmp_path, name="zones.toml"):
    p = tmp_path / name
    p.write_text(text)
    return load_zones(p)


def test_rectangle_triangle_and_l_shape_masks_by_hand(tmp_path):
    zones = _zones("""
[zones.box]
points = [[0, 0], [4, 0], [4, 4], [0, 4]]
[zones.tri]
points = [[0, 0], [8, 0], [0, 8]]
[zones.ell]   # an L: the top-left 6x2 bar and the left 2x6 bar (non-convex)
points = [[0, 0], [6, 0], [6, 2], [2, 2], [2, 6], [0, 6]]
""", tmp_path)
    masks = zones.bind(8, 8)
    assert masks["box"].sum() == 16 and masks["box"][:4, :4].all()
    # pixel (r, c) is inside when its centre (c + .5, r + .5) has x + y < 8: r + c < 7 → 7 + 6 + … + 1 = 28
    r, c = np.mgrid[0:8, 0:8]
    assert np.array_equal(masks["tri"], r + c < 7)
    ell = np.zeros((8, 8), bool)
    ell[:2, :6] = True
    ell[:6, :2] = True
    assert np.array_equal(masks["ell"], ell)


def test_fractions_by_hand(tmp_path):
    zones = _zones("[zones.box]\npoints = [[0, 0], [4, 0], [4, 4], [0, 4]]\n"
                   "[zones.right]\npoints = [[4, 0], [8, 0], [8, 8], [4, 8]]\n", tmp_path)
    labels = np.zeros((8, 8), np.uint8)
    labels[0, :4] = 1  # 4 car pixels in the box's top row
    labels[1:3, 0] = 2  # 2 person pixels in the box
    labels[:, 4:] = 1  # the right half is car …
    labels[7, 6:] = 2  # … except 2 person pixels in the bottom row
    fr = zone_fractions(labels, zones.bind(8, 8), CLASSES)
    assert fr["box"] == {"road": 10 / 16, "car": 4 / 16, "person": 2 / 16}
    assert fr["right"] == {"road": 0.0, "car": 30 / 32, "person": 2 / 32}


def test_step_samples_the_pixels_labels_at_reads(tmp_path):
    zones = _zones("[zones.box]\npoints = [[0, 0], [4, 0], [4, 4], [0, 4]]\n", tmp_path)
    masks = zones.bind(8, 8, step=2)  # sampled rows/cols 1, 3, 5, 7: centres 1.5 … 7.5
    assert masks["box"].shape == (4, 4) and masks["box"].sum() == 4 and masks["box"][:2, :2].all()
    labels = np.zeros((8, 8), np.uint8)
    labels[1, 1] = labels[3, 3] = 1  # two of the four sampled box pixels; unsampled pixels do not count
    labels[0, 0] = labels[2, 2] = 2
    res = Result(Frame(0, 0.0, "I", np.zeros((8, 8, 3), np.uint8)), labels, True, 1.0)
    assert zone_fractions(res.labels_at(2), masks, CLASSES)["box"] == {"road": 0.5, "car": 0.5, "person": 0.0}


def test_normalized_equals_pixels(tmp_path):
    px = _zones("[zones.z]\npoints = [[96, 54], [480, 27], [912, 500], [100, 513]]\n", tmp_path, "px.toml")
    nz = _zones("[zones.z]\nnormalized = true\n"
                "points = [[0.1, 0.1], [0.5, 0.05], [0.95, 0.925925925925926], [0.10416666666666667, 0.95]]\n",
                tmp_path, "nz.toml")
    for step in (1, 2, 3):
        a, b = px.bind(540, 960, step=step)["z"], nz.bind(540, 960, step=step)["z"]
        assert a.sum() > 1000 and np.array_equal(a, b)


def test_counter_binds_at_stats_step_and_rebinds_on_a_new_size(tmp_path):
    zones = _zones("[zones.top]\nnormalized = true\npoints = [[0, 0], [1, 0], [1, 0.5], [0, 0.5]]\n", tmp_path)
    counter = ZoneCounter(zones, CLASSES)
    labels = np.zeros((540, 960), np.uint8)
    labels[:270] = 1  # the top half is car
    labels[270:] = 2
    frame = Frame(0, 0.0, "I", loader=lambda: None, size=(540, 960))
    assert counter(Result(frame, labels, True, 1.0)) == {"top": {"road": 0.0, "car": 1.0, "person": 0.0}}
    assert counter.step == 2 and counter.masks["top"].shape == (270, 480)
    small = Frame(1, 0.04, "P", np.zeros((100, 100, 3), np.uint8))
    labels = np.full((100, 100), 2, np.uint8)
    assert counter(Result(small, labels, False, 1.0))["top"]["person"] == 1.0
    assert counter.step == 1 and counter.masks["top"].shape == (100, 100)


BAD = [
    ("[zones.door]\npoints = [[0, 0], [1, 1]]\n", "zones.door.points: must be a list of at least 3 points"),
    ("[zones.door]\n", "zones.door.points: must be a list of at least 3 points [x, y] (missing)"),
    ("[zones.door]\npoints = [[0, 0], [1, 'a'], [2, 2]]\n", "zones.door.points: each point must be [x, y] with two"),
    ("[zones.door]\npoints = [[0, 0], [1, 1, 1], [2, 2]]\n", "zones.door.points: each point must be [x, y]"),
    ("[zones.door]\npoints = [[0, 0], [1, true], [2, 0]]\n", "zones.door.points: each point must be [x, y]"),
    ("[zones.door]\nnormalized = true\npoints = [[0, 0], [1.5, 0], [0, 1]]\n",
     "zones.door.points: point [1.5, 0] is outside [0, 1] (normalized = true)"),
    ("[zones.door]\npoints = [[0, 0], [-3, 0], [0, 1]]\n", "zones.door.points: point [-3, 0] is outside the frame"),
    ("[zones.door]\npoints = [[0, 0], [1, 1], [2, 2]]\n", "zones.door.points: the polygon has no area"),
    ("[zones.door]\npoints = [[0, 0], [1, 0], [0, 1]]\ncolour = 'red'\n",
     "zones.door.colour: unknown key (known: normalized, points)"),
    ("[zones.door]\nnormalized = 1\npoints = [[0, 0], [1, 0], [0, 1]]\n", "zones.door.normalized: must be true"),
    ("[zones.'a b']\npoints = [[0, 0], [1, 0], [0, 1]]\n", "zones.a b: zone names use letters"),
    ("[zone.door]\npoints = [[0, 0], [1, 0], [0, 1]]\n", "zone: unknown table (known: zones)"),
    ("", "zones: at least one [zones.NAME] table"),
    ("[zones.door\n", "not valid TOML"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD)])
def test_bad_zones_file_is_one_line_naming_the_key(tmp_path, text, message):
    p = tmp_path / "zones.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_zones(p)
    line = str(err.value)
    assert len(line.splitlines()) == 1 and line.startswith(f"{p}: ") and message in line, line


def test_point_beyond_the_frame_is_an_error_when_bound(tmp_path):
    p = tmp_path / "zones.toml"
    p.write_text("[zones.door]\npoints = [[0, 0], [700, 0], [700, 300]]\n")
    zones = load_zones(p)
    zones.bind(480, 704)  # fits
    with pytest.raises(ConfigError) as err:
        zones.bind(360, 640)
    assert str(err.value) == f"{p}: zones.door.points: point [700, 0] is outside the 640x360 frame"


def test_missing_file_and_zones_compare_by_content(tmp_path):
    with pytest.raises(ConfigError, match="no such zones file"):
        load_zones(tmp_path / "nope.toml")
    doc = {"zones": {"a": {"points": [[0, 0], [1, 0], [0, 1]]}}}
    assert parse_zones(doc, path="x") == parse_zones(doc, path="x")
    assert parse_zones(doc, path="x") != parse_zones({"zones": {"a": {"points": [[0, 0], [2, 0], [0, 1]]}}}, path="x")


def test_shipped_example_loads_and_binds():
    from pathlib import Path

    zones = load_zones(Path(__file__).resolve().parents[2] / "jetson" / "zones-gate.toml")
    assert zones.names == ["door", "driveway"]
    masks = zones.bind(1080, 1920, step=4)
    assert all(m.any() for m in masks.values())
