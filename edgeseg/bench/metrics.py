"""Segmentation accuracy: confusion matrices and mean IoU (the paper's metric).

Usage: ``cm = confusion(pred, truth, num_classes=11); miou(cm)`` → percent, over classes present.
"""

from __future__ import annotations

import numpy as np


def confusion(pred: np.ndarray, truth: np.ndarray, *, num_classes: int, ignore: int | None = 255) -> np.ndarray:
    """(K, K) int64 counts, rows = truth, columns = prediction; `ignore` truth pixels are skipped."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and truth {truth.shape} differ in size")
    t, p = truth.ravel().astype(np.int64), pred.ravel().astype(np.int64)
    keep = (t < num_classes) & (p < num_classes)
    if ignore is not None:
        keep &= t != ignore
    return np.bincount(t[keep] * num_classes + p[keep], minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """IoU per class; NaN for classes absent from both truth and prediction."""
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def miou(cm: np.ndarray) -> float:
    """Mean IoU in percent over the classes that occur (in truth or prediction)."""
    ious = iou_per_class(cm)
    return float(np.nanmean(ious) * 100) if np.isfinite(ious).any() else float("nan")
