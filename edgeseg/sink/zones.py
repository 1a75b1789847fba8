"""Named zones of a camera's view (polygons from a TOML file) and the share of each class inside each zone.

Usage::

    zones = load_zones("zones.toml")     # [zones.door] points = [[x, y], ...]; normalized = true: 0–1 coordinates
    masks = zones.bind(1080, 1920, step=stats_step((1080, 1920)))   # {zone: boolean mask}, rasterised once
    zone_fractions(result.labels_at(4), masks, classes)               # {zone: {class: share of the zone}}
    counter = ZoneCounter(zones, classes); counter(result)            # the same per Result, bound on first use

Coordinates: x to the right, y down; pixel coordinates span the frame's edges, [0, W] × [0, H] (a pixel's
centre is at (col + 0.5, row + 0.5)); normalized ones [0, 1] × [0, 1]. A pixel belongs to a zone when its centre
lies inside the polygon (even-odd rule). Fractions are counted on the labels of every step-th row and column
(edgeseg.sink.stats.stats_step, Result.labels_at), as the whole frame's are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeseg.errors import ConfigError
from edgeseg.system.toml import read_toml

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEYS = ("normalized", "points")


@dataclass(frozen=True)
class Zone:
    """One polygon: (x, y) vertices in pixels, or 0–1 of the frame's width and height when normalized."""

    name: str
    points: tuple[tuple[float, float], ...]
    normalized: bool = False

    def pixels(self, height: int, width: int, *, where: str = "") -> np.ndarray:
        """(N, 2) float vertices in pixels of a height × width frame; ConfigError for a point outside it."""
        pts = np.asarray(self.points, np.float64)
        if self.normalized:
            return pts * (width, height)
        outside = (pts[:, 0] > width) | (pts[:, 1] > height)
        if outside.any():
            x, y = self.points[int(np.argmax(outside))]
            raise ConfigError(f"{where}zones.{self.name}.points: point [{x:g}, {y:g}] is outside the "
                              f"{width}x{height} frame")
        return pts


@dataclass(frozen=True)
class Zones:
    """The zones of one file, in file order. Comparable: a reload restarts a camera whose zones changed."""

    path: str
    zones: tuple[Zone, ...]

    @property
    def names(self) -> list[str]:
        return [z.name for z in self.zones]

    def bind(self, height: int, width: int, step: int = 1) -> dict[str, np.ndarray]:
        """{zone: (rows, cols) bool mask} on the pixels labels_at(step) samples (rows and cols step·i + step//2)."""
        rows = np.arange(step // 2, height, step) + 0.5
        cols = np.arange(step // 2, width, step) + 0.5
        return {z.name: polygon_mask(z.pixels(height, width, where=f"{self.path}: "), rows, cols)
                for z in self.zones}


def polygon_mask(vertices: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(len(rows), len(cols)) bool: whether each (cols[j], rows[i]) lies inside the polygon (even-odd rule).

    Vectorised per edge: a row's crossing of each edge toggles every pixel to the left of it."""
    inside = np.zeros((len(rows), len(cols)), bool)
    x0, y0 = vertices[:, 0], vertices[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        spans = (ay <= rows) != (by <= rows)  # the rows this edge crosses (half-open: a vertex counts once)
        if not spans.any():
            continue
        r = rows[spans]
        x_cross = ax + (r - ay) * (bx - ax) / (by - ay)
        inside[spans] ^= cols[None, :] < x_cross[:, None]
    return inside


def zone_fractions(labels: np.ndarray, masks: dict[str, np.ndarray], classes: list[str]) -> dict[str, dict]:
    """{zone: {class: share of the zone's pixels}}, 6 decimals (a zone that covers no sampled pixel: all 0).
    Labels beyond `classes` count in the zone's total, as in edgeseg.sink.stats.class_fractions."""
    out = {}
    n = len(classes)
    for name, mask in masks.items():
        inside = labels[mask]
        counts = np.bincount(inside, minlength=n)[:n] if inside.size else np.zeros(n, np.int64)
        share = counts / max(inside.size, 1)
        out[name] = {c: round(float(s), 6) for c, s in zip(classes, share, strict=True)}
    return out


class ZoneCounter:
    """Zone fractions of Results: binds the zones at the first frame's size (and again if it changes).

    Usage: ``counter = ZoneCounter(load_zones(path), classes); counter(result)`` → {zone: {class: share}}"""

    def __init__(self, zones: Zones, classes: list[str]):
        self.zones, self.classes = zones, list(classes)
        self._hw: tuple[int, int] | None = None
        self.step = 1
        self.masks: dict[str, np.ndarray] = {}

    def __call__(self, result) -> dict[str, dict]:
        from edgeseg.sink.stats import stats_step

        hw = (result.frame.height, result.frame.width)
        if hw != self._hw:
            self.step = stats_step(hw)
            self.masks, self._hw = self.zones.bind(*hw, step=self.step), hw
        return zone_fractions(result.labels_at(self.step), self.masks, self.classes)


def _point(value, key: str, normalized: bool) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in value)
    if not ok:
        raise ConfigError(f"{key}: each point must be [x, y] with two numbers (got {value!r})")
    x, y = float(value[0]), float(value[1])
    if x < 0 or y < 0 or (normalized and (x > 1 or y > 1)):
        where = "[0, 1] (normalized = true)" if normalized else "the frame (pixels from 0)"
        raise ConfigError(f"{key}: point [{x:g}, {y:g}] is outside {where}")
    return x, y


def _zone(name: str, table, where: str) -> Zone:
    key = f"{where}zones.{name}"
    if not NAME.match(name):
        raise ConfigError(f"{key}: zone names use letters, digits, _ and - only (1 to 64)")
    if not isinstance(table, dict):
        raise ConfigError(f"{key}: must be a table with points = [[x, y], ...]")
    for k in table:
        if k not in _KEYS:
            raise ConfigError(f"{key}.{k}: unknown key (known: {', '.join(_KEYS)})")
    normalized = table.get("normalized", False)
    if not isinstance(normalized, bool):
        raise ConfigError(f"{key}.normalized: must be true or false (got {normalized!r})")
    raw = table.get("points")
    if not isinstance(raw, list) or len(raw) < 3:
        got = "missing" if raw is None else f"got {raw!r}"
        raise ConfigError(f"{key}.points: must be a list of at least 3 points [x, y] ({got})")
    pts = tuple(_point(p, f"{key}.points", normalized) for p in raw)
    xy = np.asarray(pts)
    area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
    if area == 0:
        raise ConfigError(f"{key}.points: the polygon has no area (its points lie on one line)")
    return Zone(name=name, points=pts, normalized=normalized)


def parse_zones(data: dict, *, path: str | Path = "<zones>") -> Zones:
    """Validate a parsed zones document ({"zones": {NAME: {points, normalized}}}); ConfigError names the key."""
    where = f"{path}: "
    for k in data:
        if k != "zones":
            raise ConfigError(f"{where}{k}: unknown table (known: zones)")
    tables = data.get("zones")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}zones: at least one [zones.NAME] table with points = [[x, y], ...] is required")
    return Zones(path=str(path), zones=tuple(_zone(n, t, where) for n, t in tables.items()))


def load_zones(path: str | Path) -> Zones:
    """Read and validate a zones file. Raises ConfigError (one line: file, key, problem)."""
    return parse_zones(read_toml(path, what="zones"), path=Path(path))
