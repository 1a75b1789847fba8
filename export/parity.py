"""Parity inputs and untrained-but-sensible weights: smooth random images, non-trivial normalisation statistics.

Usage: ``calibrate_norms(model, (64, 96)); x = smooth_images(2, (64, 96))``; then compare torch and ONNX labels.

Random weights with the default BatchNorm statistics (mean 0, variance 1) blow activations up or collapse
them, and the network then gives one class everywhere: label parity would be trivially 100 %. Setting
each BatchNorm's running statistics to those of smooth random images (plus random affine parameters) keeps
activations O(1) and the labels spatially varied, and exercises the folding of the statistics into the
ONNX graph. The BatchNorm scales are drawn from [0.2, 0.6]: with scales around 1, untrained deep networks
(EfficientNet, MobileNetV2, ResNet-50) amplify float16 rounding by ~1.3× per block (measured on
smp:FPN:mobilenet_v2: relative error 7e-4 after the first block, 4e-2 at the decoder), and fp16 labels
then differ on 1–2 % of the pixels for reasons that have nothing to do with the export.
"""

from __future__ import annotations


def smooth_images(n: int, hw: tuple[int, int], *, seed: int = 0, cell: int = 8):
    """(n, 3, H, W) float32: unit-variance noise on a grid of `cell` pixels, bicubically upsampled
    (already normalised network input)."""
    import torch
    from torch.nn import functional as F

    g = torch.Generator().manual_seed(seed)
    small = torch.randn(n, 3, hw[0] // cell + 1, hw[1] // cell + 1, generator=g)
    return F.interpolate(small, size=tuple(hw), mode="bicubic", align_corners=False).contiguous()


def calibrate_norms(model, hw: tuple[int, int], *, seed: int = 1, images: int = 4, scale=(0.2, 0.6)) -> None:
    """Random BatchNorm affine parameters; running statistics measured on smooth random images. In place."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    g = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
        if m.affine:
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=g) * (scale[1] - scale[0]) + scale[0])
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    model.train()
    with torch.no_grad():
        model(smooth_images(images, hw, seed=seed + 100))
    model.eval()
    for m in norms:
        m.momentum = 0.1


def agreement(a, b) -> float:
    """Share of equal labels."""
    import numpy as np

    return float((np.asarray(a) == np.asarray(b)).mean())
