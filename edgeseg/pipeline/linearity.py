"""Is the task network pointwise and affine? Then warping its class scores equals warping its features.

Usage: ``exact = pointwise_affine(nets.scores, feats)`` (True: warp the K class scores instead of the C features)

Bilinear warping and interp's blending produce, at every cell, a convex combination of source cells
(weights ≥ 0 that sum to 1). A task network that maps each cell on its own (1×1 convolutions, BatchNorm)
and is affine commutes with every such combination: task(Σ wᵢ fᵢ) = Σ wᵢ task(fᵢ). Warping the K class scores
of the keyframe then gives the same labels as warping its C feature channels and running the task network —
with K ≪ C, at a fraction of the cost, and without calling the task network between keyframes.
The check is numerical, on the stream's own first keyframe features (two properties, three task calls):
- pointwise: shuffling the cells of the input shuffles the output's cells the same way;
- affine on convex combinations: task(a·f + (1−a)·g) = a·task(f) + (1−a)·task(g).
A task network with a spatial kernel (3×3 convolution) or a nonlinearity between layers fails it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def pointwise_affine(scores: Callable[[np.ndarray], np.ndarray], feats: np.ndarray, *,
                     rtol: float = 1e-4, seed: int = 0) -> bool:
    """True if `scores` (N,C,h,w → N,K,h,w) is pointwise and affine around the features `feats` (1,C,h,w)."""
    feats = np.asarray(feats, np.float32)
    _, c, h, w = feats.shape
    if h * w < 2:
        return False
    rng = np.random.default_rng(seed)
    perm = rng.permutation(h * w)

    def shuffle(x):  # (1, ch, h, w) with cells reordered by perm
        return np.ascontiguousarray(x.reshape(1, x.shape[1], h * w)[:, :, perm].reshape(x.shape))

    other = shuffle(feats)
    a = 0.3
    base, moved, mixed = (np.asarray(scores(x), np.float32)
                          for x in (feats, other, (a * feats + (1 - a) * other).astype(np.float32)))
    tol = rtol * max(float(np.abs(base).max()), 1.0)
    if not np.allclose(moved, shuffle(base), rtol=0, atol=tol):
        return False  # a cell's scores depend on its neighbours
    return bool(np.allclose(mixed, a * base + (1 - a) * moved, rtol=0, atol=tol))
