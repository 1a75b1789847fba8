"""prop's strategies: how the last keyframe's data reaches the current frame along the block motion.

Usage: ``data = PROPAGATIONS.get("compose")(track, disp)`` for each non-keyframe whose motion is known.

A strategy is one function of the stream's Track (the keyframe's data and the chain so far) and the frame's
displacements to the previous frame on the warp grid; it returns the frame's warped data (channels last) and
advances the track (track.pos: where the frame's cells are in the keyframe).
- compose: compose the positions back to the keyframe, then warp the keyframe once (no repeated blurring);
- step: warp the previous frame's data by one step;
- reuse: the keyframe's data, not warped (the baseline; mode reuse's, not a ``--propagation`` choice).
A new one is a function registered in PROPAGATIONS here: ``--propagation`` and the service key offer it.
Metadata: ``option`` (offered as ``--propagation``), ``writable`` (the data it returns is the caller's to change
in place: the track does not read it again; else the correction edits a copy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeseg.registry import Registry
from edgeseg.warp.bilinear import warp


@dataclass(slots=True)
class Track:
    """One keyframe's data and the chain from it. key: (h, w, C) features or scores, channels last; grid:
    identity positions; cur: the latest frame's data; pos: the latest frame's cells' positions in the
    keyframe (compose); thumb: the keyframe's thumbnail (photometric fusion) or None."""

    key: np.ndarray
    grid: np.ndarray
    thumb: np.ndarray | None = None
    cur: np.ndarray | None = None
    pos: np.ndarray | None = None

    def __post_init__(self):
        self.cur = self.key if self.cur is None else self.cur
        self.pos = self.grid if self.pos is None else self.pos


Propagation = Callable[[Track, np.ndarray], np.ndarray]


def compose(track: Track, disp: np.ndarray) -> np.ndarray:
    track.pos = warp(track.pos, track.grid + disp)
    track.cur = warp(track.key, track.pos)
    return track.cur


def step(track: Track, disp: np.ndarray) -> np.ndarray:
    track.cur = warp(track.cur, track.grid + disp)
    track.pos = warp(track.pos, track.grid + disp)  # where the cells came from (the correction's trigger)
    return track.cur


def reuse(track: Track, disp: np.ndarray) -> np.ndarray:
    return track.key


PROPAGATIONS: Registry[Propagation] = Registry("propagation", option=True, writable=False)
PROPAGATIONS.register("compose", compose, writable=True)  # track.cur is recomputed from the keyframe each frame
PROPAGATIONS.register("step", step)
PROPAGATIONS.register("reuse", reuse, option=False)


def carried(track: Track) -> np.ndarray:
    """(h, w, 3): the keyframe's thumbnail carried along track.pos: the colour each cell's data came with (label
    guidance and the correction's trigger)."""
    return warp(track.thumb, track.pos)
