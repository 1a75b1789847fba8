"""What a bundle's feature stride and channels cost the runtime: warp + fusion per frame, interp's ceiling.

Usage: ``w = measure_warp(task_session_fn, feats, classes=19)``; ``interp_ceiling(feature_ms, task_ms, w["ms"])``

Between keyframes interp warps the two keyframes' maps with the per-frame motion and blends them
(edgeseg.warp.bilinear.warp_blend, the runtime's own kernel). It warps the K class scores when the task
network is pointwise and affine (edgeseg.pipeline.linearity), else the C feature channels and then runs the
task network on every frame. Both are timed here on random positions at the feature grid size.
"""

from __future__ import annotations

import time

import numpy as np

INTERP_K = 10


def _median_ms(fn, repeat: int = 7) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return sorted(samples)[len(samples) // 2]


def warp_fuse_ms(h: int, w: int, channels: int, *, seed: int = 0) -> float:
    """Median ms of one interp warp + blend (two keyframe maps, one frame) of an h×w×channels map."""
    from edgeseg.warp.bilinear import identity_grid, warp_blend

    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((h, w, channels)).astype(np.float32) for _ in range(2))
    grid = identity_grid(h, w)
    pa = (grid + rng.uniform(-1.5, 1.5, grid.shape)).astype(np.float32)
    pb = (grid + rng.uniform(-1.5, 1.5, grid.shape)).astype(np.float32)
    return _median_ms(lambda: warp_blend([(a, pa, 0.7), (b, pb, 0.3)]))


def measure_warp(scores, feats: np.ndarray, *, classes: int) -> dict:
    """{space, cells, channels_warped, ms}: what interp warps per non-keyframe and how long it takes.
    scores: the task network as a function (N,C,h,w) → (N,K,h,w); feats: one keyframe's (1,C,h,w)."""
    from edgeseg.pipeline.linearity import pointwise_affine

    _, c, h, w = feats.shape
    space = "scores" if pointwise_affine(scores, feats) else "features"
    ch = classes if space == "scores" else c
    return {"space": space, "cells": h * w, "channels_warped": ch, "values_per_frame": h * w * ch,
            "ms": round(warp_fuse_ms(h, w, ch), 4)}


def interp_ceiling(feature_ms: float, task_ms: float, warp_ms: float, space: str, k: int = INTERP_K) -> float:
    """Speed-up ceiling of interp at keyframe interval k over frame mode, networks and warps only:
    (F + T) / ((F + T)/k + (1 − 1/k)·(W + T if features are warped else W)). Decoding, motion vectors and
    label upsampling, the same in both modes, are left out."""
    per_nonkey = warp_ms + (task_ms if space == "features" else 0.0)
    return (feature_ms + task_ms) / ((feature_ms + task_ms) / k + (1 - 1 / k) * per_nonkey)
