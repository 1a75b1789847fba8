"""A procedural street: static layout, moving agents and the camera path, all drawn from one seed.

Usage: ``scene = Scene.build(seed=3, length=300.0, duration=10.0)``; ``scene.camera(tau, dist)`` → pose.

World frame: x right, y up, z along the street (metres). Road |x| < ROAD_HALF, sidewalks up to FACADE_X,
building facades on the planes x = ±FACADE_X, a tree line behind gaps between buildings. Primitives are
axis-aligned boxes and spheres attached to agents; an agent moves at constant velocity (static ones at 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# class indices (models/reference.py CLASSES order)
SKY, BUILDING, ROAD, SIDEWALK, VEGETATION, CAR, PEDESTRIAN, POLE = range(8)
CLASSES = ["sky", "building", "road", "sidewalk", "vegetation", "car", "pedestrian", "pole"]

ROAD_HALF = 8.0  # four 3.5 m lanes (the outer ones shared with parked cars) + 1 m
FACADE_X = 15.0  # 7 m sidewalks
TREELINE_X = 21.0
CAMERA_LANE_X = 1.75
CAMERA_HEIGHT = 1.5

# primitive styles (texture/shading recipes in render.py)
PLAIN, CAR_BODY, CAR_CABIN, TRUNK, CROWN, SIGN, SKIN = range(7)


@dataclass
class Primitives:
    """Flat arrays, one row per primitive: kind 0 = box (half sizes), 1 = sphere (radius in half[:, 0])."""

    agent: np.ndarray  # int index into Agents
    kind: np.ndarray
    offset: np.ndarray  # (n, 3) centre relative to the agent's position
    half: np.ndarray  # (n, 3)
    label: np.ndarray
    color: np.ndarray  # (n, 3) albedo in [0, 1]
    style: np.ndarray
    salt: np.ndarray  # texture offset (float)


@dataclass
class Agents:
    pos0: np.ndarray  # (m, 3) position at scene time 0
    vel: np.ndarray  # (m, 3) metres per second

    def positions(self, tau: float) -> np.ndarray:
        return self.pos0 + self.vel * tau


@dataclass
class Pose:
    position: np.ndarray  # (3,)
    rotation: np.ndarray  # (3, 3) camera → world (columns: right, up, forward)


@dataclass
class Scene:
    """One continuous street; a scene cut starts another Scene (different seed)."""

    seed: int
    facades: dict  # side (-1, +1) → dict(z0, z1, height, color, gap, bay, floor, salt) arrays sorted by z0
    agents: Agents
    prims: Primitives
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    sun: np.ndarray  # unit vector towards the sun
    exposure: float
    road_tone: float
    cam_phase: np.ndarray = field(repr=False)
    turn: float = 1.0
    shake: float = 1.0

    @classmethod
    def build(cls, *, seed: int, length: float, duration: float, traffic: float = 1.0, turn: float = 1.0,
              shake: float = 1.0) -> Scene:
        """Lay out a street for a camera travelling `length` metres in `duration` seconds."""
        rng = np.random.default_rng([seed, 0x5EED])
        z_lo, z_hi = -60.0, length + 320.0
        facades = {side: _facades(rng, z_lo, z_hi) for side in (-1, 1)}
        b = _Builder()
        _static_objects(b, rng, z_lo, z_hi, facades)
        _traffic(b, rng, z_lo, z_hi, duration, traffic)
        elev = rng.uniform(0.35, 0.9)
        az = rng.uniform(-1.2, 1.2)
        sun = np.array([np.sin(az) * np.cos(elev), np.sin(elev), np.cos(az) * np.cos(elev)])
        sky_top = np.array([0.25, 0.45, 0.85]) * rng.uniform(0.8, 1.1) + rng.uniform(-0.05, 0.05, 3)
        sky_horizon = np.array([0.8, 0.85, 0.92]) * rng.uniform(0.85, 1.05)
        return cls(seed=seed, facades=facades, agents=b.agents(), prims=b.prims(), sky_top=sky_top,
                   sky_horizon=np.clip(sky_horizon, 0, 1), sun=sun, exposure=float(rng.uniform(0.8, 1.1)),
                   road_tone=float(rng.uniform(0.28, 0.42)), cam_phase=rng.uniform(0, 2 * np.pi, 12),
                   turn=turn, shake=shake)

    def camera(self, tau: float, dist: float) -> Pose:
        """Camera pose at scene time tau (s) after travelling dist (m): lane sway, turning, shake."""
        p = self.cam_phase
        two_pi = 2 * np.pi
        x = CAMERA_LANE_X + 0.45 * np.sin(two_pi * tau / 9.0 + p[0])
        y = CAMERA_HEIGHT + self.shake * (0.012 * np.sin(two_pi * tau * 1.7 + p[1]) + 0.006 * np.sin(two_pi * tau * 4.1 + p[2]))
        yaw = self.turn * (0.11 * np.sin(two_pi * tau / 11.0 + p[3]) + 0.05 * np.sin(two_pi * tau / 4.3 + p[4]))
        pitch = -0.03 + self.shake * (0.004 * np.sin(two_pi * tau * 1.3 + p[5]) + 0.003 * np.sin(two_pi * tau * 3.7 + p[6]))
        roll = self.shake * (0.004 * np.sin(two_pi * tau * 0.9 + p[7]) + 0.002 * np.sin(two_pi * tau * 2.9 + p[8]))
        return Pose(np.array([x, y, dist]), _rotation(yaw, pitch, roll))


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def _facades(rng: np.random.Generator, z_lo: float, z_hi: float) -> dict:
    rows = []
    z = z_lo - rng.uniform(0, 20)
    while z < z_hi:
        length = rng.uniform(8, 32)
        gap = rng.random() < 0.18
        base = rng.choice([[0.62, 0.42, 0.33], [0.75, 0.7, 0.6], [0.5, 0.5, 0.52], [0.8, 0.78, 0.72],
                           [0.55, 0.3, 0.25], [0.68, 0.6, 0.45]])
        color = np.clip(base * rng.uniform(0.8, 1.15) + rng.uniform(-0.06, 0.06, 3), 0.05, 1)
        rows.append((z, z + length, 0.0 if gap else rng.uniform(7, 26), *color, float(gap),
                     rng.uniform(2.2, 3.4), rng.uniform(2.9, 3.6), rng.uniform(0, 200)))
        z += length
    a = np.array(rows)
    return {"z0": a[:, 0], "z1": a[:, 1], "height": a[:, 2], "color": a[:, 3:6], "gap": a[:, 6] > 0,
            "bay": a[:, 7], "floor": a[:, 8], "salt": a[:, 9]}


class _Builder:
    def __init__(self):
        self.pos, self.vel, self.rows = [], [], []

    def agent(self, pos, vel=(0.0, 0.0, 0.0)) -> int:
        self.pos.append(pos)
        self.vel.append(vel)
        return len(self.pos) - 1

    def add(self, agent, kind, offset, half, label, color, style, salt):
        self.rows.append((agent, kind, *offset, *half, label, *color, style, salt))

    def agents(self) -> Agents:
        return Agents(np.array(self.pos, float).reshape(-1, 3), np.array(self.vel, float).reshape(-1, 3))

    def prims(self) -> Primitives:
        a = np.array(self.rows, float).reshape(-1, 14)
        return Primitives(agent=a[:, 0].astype(np.int64), kind=a[:, 1].astype(np.int64), offset=a[:, 2:5],
                          half=a[:, 5:8], label=a[:, 8].astype(np.uint8), color=a[:, 9:12],
                          style=a[:, 12].astype(np.int64), salt=a[:, 13])


def _car(b: _Builder, rng, pos, vel) -> None:
    a = b.agent(pos, vel)
    color = rng.choice([[0.8, 0.1, 0.1], [0.1, 0.2, 0.6], [0.85, 0.85, 0.85], [0.1, 0.1, 0.1], [0.5, 0.5, 0.55],
                        [0.9, 0.8, 0.2], [0.2, 0.45, 0.3], [0.6, 0.35, 0.15]])
    color = np.clip(color * rng.uniform(0.85, 1.1) + rng.uniform(-0.05, 0.05, 3), 0.03, 1)
    length, width = rng.uniform(1.9, 2.5), rng.uniform(0.85, 1.0)
    salt = rng.uniform(0, 200)
    b.add(a, 0, (0, 0.55, 0), (width, 0.4, length), CAR, color, CAR_BODY, salt)
    b.add(a, 0, (0, 1.2, -0.15 * length), (width * 0.88, 0.27, length * 0.55), CAR, color, CAR_CABIN, salt)


def _pedestrian(b: _Builder, rng, pos, vel) -> None:
    a = b.agent(pos, vel)
    h = rng.uniform(0.9, 1.1)
    shirt = np.clip(rng.uniform(0.05, 0.95, 3), 0, 1)
    pants = rng.choice([[0.15, 0.15, 0.25], [0.1, 0.1, 0.1], [0.45, 0.4, 0.3], [0.3, 0.3, 0.35]])
    skin = rng.choice([[0.9, 0.7, 0.55], [0.6, 0.45, 0.3], [0.4, 0.28, 0.2]])
    salt = rng.uniform(0, 200)
    b.add(a, 0, (0, 0.43 * h, 0), (0.17, 0.43 * h, 0.13), PEDESTRIAN, pants, PLAIN, salt)
    b.add(a, 0, (0, 1.17 * h, 0), (0.24, 0.31 * h, 0.15), PEDESTRIAN, shirt, PLAIN, salt + 7)
    b.add(a, 1, (0, 1.62 * h, 0), (0.13, 0, 0), PEDESTRIAN, skin, SKIN, salt + 13)


def _static_objects(b: _Builder, rng, z_lo, z_hi, facades) -> None:
    for side in (-1, 1):
        z = z_lo + rng.uniform(0, 10)
        while z < z_hi:  # street trees
            a = b.agent((side * rng.uniform(12.0, 13.5), 0, z))
            trunk_h = rng.uniform(2.0, 3.0)
            r = rng.uniform(1.3, 2.2)
            b.add(a, 0, (0, trunk_h / 2, 0), (0.15, trunk_h / 2, 0.15), VEGETATION, (0.35, 0.25, 0.15), TRUNK, 0)
            green = np.array([0.25, 0.5, 0.15]) * rng.uniform(0.7, 1.2)
            b.add(a, 1, (0, trunk_h + r * 0.8, 0), (r, 0, 0), VEGETATION, np.clip(green, 0, 1), CROWN,
                  rng.uniform(0, 200))
            z += rng.uniform(12, 35)
        z = z_lo + rng.uniform(0, 15)
        while z < z_hi:  # poles with signs
            a = b.agent((side * rng.uniform(8.4, 8.8), 0, z))
            h = rng.uniform(4.0, 6.5)
            b.add(a, 0, (0, h / 2, 0), (0.09, h / 2, 0.09), POLE, (0.45, 0.45, 0.47), PLAIN, 0)
            sign = rng.choice([[0.8, 0.1, 0.1], [0.1, 0.3, 0.75], [0.9, 0.8, 0.1], [0.9, 0.9, 0.9]])
            b.add(a, 0, (-side * 0.3, h - rng.uniform(0.4, 1.2), 0), (0.35, 0.3, 0.04), POLE, sign, SIGN, 0)
            z += rng.uniform(18, 45)
        z = z_lo
        while z < z_hi:  # parked cars
            if rng.random() < 0.45:
                _car(b, rng, (side * 7.05, 0, z), (0, 0, 0))
            z += rng.uniform(5.5, 9)


def _traffic(b: _Builder, rng, z_lo, z_hi, duration, traffic) -> None:
    if traffic <= 0:
        return
    for lane_x, direction in ((5.1, 1), (-1.75, -1), (-5.1, -1)):
        speed = direction * rng.uniform(4, 12) if direction > 0 else direction * rng.uniform(6, 13)
        span_lo, span_hi = z_lo - abs(speed) * duration, z_hi + abs(speed) * duration
        z = span_lo + rng.uniform(0, 20)
        while z < span_hi:
            _car(b, rng, (lane_x, 0, z), (0, 0, speed))
            z += rng.uniform(12, 40) / traffic
    for side in (-1, 1):  # sidewalk pedestrians
        z = z_lo - 2 * duration
        while z < z_hi + 2 * duration:
            v = rng.choice([-1, 1]) * rng.uniform(0.8, 1.7)
            _pedestrian(b, rng, (side * rng.uniform(8.9, 14.5), 0, z), (0, 0, v))
            z += rng.uniform(3, 14) / traffic
    z = z_lo + rng.uniform(10, 40)
    while z < z_hi:  # people crossing the road
        side = rng.choice([-1, 1])
        v = rng.uniform(1.0, 1.8)
        start = -side * (ROAD_HALF + rng.uniform(-2, 6))
        _pedestrian(b, rng, (start, 0, z), (side * v, 0, 0))
        z += rng.uniform(25, 70) / traffic
