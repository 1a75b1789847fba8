"""Model zoo: torchvision DeepLabV3 / FCN / LRASPP, smp and SegFormer models, the reference model; no downloads.

Usage: ``spec = build("smp:FPN:mobilenet_v2", num_classes=5, weights="epoch=9.ckpt")``; ``spec.forward(x)``

``build`` returns a :class:`ModelSpec`: the torch model in eval mode, its logits at the input size
(``forward``), its :class:`edgeseg_export.split.Staged` view for the split, and what the bundle records.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgeseg.errors import ExportError

DEEPLAB = ("deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "deeplabv3_resnet101", "fcn_resnet50",
           "fcn_resnet101")
TORCHVISION = (*DEEPLAB, "lraspp_mobilenet_v3_large")
MODELS = (*TORCHVISION, "reference")
FAMILIES = "smp:<Arch>:<encoder>, segformer-b0 … segformer-b5"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = (520, 520)  # torchvision's evaluation size for its segmentation weights


@dataclass
class ModelSpec:
    """A torch segmentation model in eval mode plus what the bundle records about it."""

    name: str
    model: object  # nn.Module
    classes: list[str]
    palette: list[tuple[int, int, int]] | None
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: str | None  # file the weights came from, None = random init
    staged: object = None  # split.Staged
    forward: object = None  # x → logits (N, K, H, W) at the input size, as the source library computes them
    info: dict = field(default_factory=dict)  # architecture facts for the manifest (family, encoder, config)


def check_name(name: str) -> None:
    """Refuse an unknown model or encoder name early, listing the valid ones."""
    if name.startswith("smp:"):
        from edgeseg_export import smp

        smp.parse_name(name)
    elif name.startswith("segformer"):
        from edgeseg_export import segformer

        segformer.variant(name)
    elif name not in MODELS:
        raise ExportError(f"{name}: unknown model (choose one of {', '.join(MODELS)}, {FAMILIES}, "
                          "or give an .onnx file)")


def build(name: str, *, num_classes: int | None = None, classes: list[str] | None = None,
          weights: str | Path | None = None, config: str | Path | None = None, warn=None) -> ModelSpec:
    """Build MODEL in eval mode; weights: a checkpoint (see edgeseg_export.checkpoint), else random (warned)."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    check_name(name)
    if classes is not None and num_classes is not None and len(classes) != num_classes:
        raise ExportError(f"--classes lists {len(classes)} names but --num-classes is {num_classes}")
    n = num_classes or (len(classes) if classes else None)
    if config is not None and not name.startswith("segformer"):
        raise ExportError(f"--config is for SegFormer models (segformer-b0 … b5), not {name}")
    if name.startswith("smp:"):
        from edgeseg_export import smp

        spec = smp.build(name, num_classes=n, weights=weights, log=warn)
    elif name.startswith("segformer"):
        from edgeseg_export import segformer

        spec = segformer.build(name, num_classes=n, weights=weights, config=config, log=warn)
    else:
        spec = _build_torchvision(name, n, weights, warn)
    k = len(spec.classes)
    if classes is not None:
        spec.classes = list(classes)
    if spec.palette is not None and len(spec.palette) != k:
        spec.palette = None
    if weights is None:
        warn(f"WARNING: no --weights for {name}: the network has RANDOM weights; its output is meaningless "
             "(useful only to test the pipeline and its speed)")
    spec.model.eval()
    return spec


def generic_classes(n: int) -> list[str]:
    return [f"class{i}" for i in range(n)]


def _build_torchvision(name, n, weights, warn) -> ModelSpec:
    from edgeseg_export import checkpoint, split

    if name == "reference":
        from edgeseg_models import reference as ref

        k = n or len(ref.CLASSES)
        model = ref.build_model(num_classes=k)
        default_classes, palette = list(ref.CLASSES), list(ref.PALETTE)
        input_size, mean, std = tuple(ref.INPUT_SIZE), tuple(ref.MEAN), tuple(ref.STD)
        if weights is None and k == len(ref.CLASSES) and Path(ref.WEIGHTS_PATH).is_file():
            weights = ref.WEIGHTS_PATH
    else:
        import torchvision.models.segmentation as seg
        from torchvision.models._meta import _VOC_CATEGORIES

        k = n or len(_VOC_CATEGORIES)
        model = getattr(seg, name)(weights=None, weights_backbone=None, aux_loss=False, num_classes=k)
        default_classes, palette = list(_VOC_CATEGORIES), None
        input_size, mean, std = DEFAULT_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD
    if weights is not None:
        # torchvision's published checkpoints carry an auxiliary head that inference does not use
        checkpoint.load_into(model, weights, name=name, ignore=("aux_classifier.",), log=warn)
    model.eval()
    staged = _staged_lraspp(model) if name.startswith("lraspp") else split.staged_deeplab(model)
    return ModelSpec(name=name, model=model, classes=default_classes if k == len(default_classes) else
                     generic_classes(k), palette=palette, input_size=input_size, mean=mean, std=std,
                     weights=None if weights is None else str(weights), staged=staged,
                     forward=lambda x: model(x)["out"], info={"family": "torchvision" if name != "reference"
                                                                else "reference"})


def _staged_lraspp(model):
    """LRASPP: the head sums two 1×1 convs (on the stride-8 `low` tensor and the upsampled, gated `high` one).
    The trunk ends at their fusion, concat(low, high'); the task network is one equivalent 1×1 conv."""
    import torch
    from edgeseg_export.split import Staged
    from torch import nn
    from torch.nn import functional as F

    head = model.classifier

    class Fusion(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.cbr, self.scale = model.backbone, head.cbr, head.scale

        def forward(self, x):
            f = self.backbone(x)
            low, high = f["low"], f["high"]
            y = F.interpolate(self.cbr(high) * self.scale(high), size=low.shape[-2:], mode="bilinear",
                              align_corners=False)
            return torch.cat([low, y], 1)

    lo, hi = head.low_classifier, head.high_classifier
    conv = nn.Conv2d(lo.in_channels + hi.in_channels, lo.out_channels, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([lo.weight, hi.weight], 1))
        conv.bias.copy_(lo.bias + hi.bias)
    return Staged("classifier.fusion", Fusion(), [("classifier.classify", conv)])
