"""Model zoo: torchvision DeepLabV3 variants and the project's reference model, built without downloads.

Usage: ``spec = build("deeplabv3_resnet50", num_classes=21, weights=None)``; ``spec.model(x)["out"]``
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import ExportError

TORCHVISION = ("deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "deeplabv3_resnet101")
MODELS = (*TORCHVISION, "reference")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = (520, 520)  # torchvision's evaluation size for its DeepLabV3 weights


@dataclass
class ModelSpec:
    """A torch DeepLabV3 in eval mode plus what the bundle records about it."""

    name: str
    model: object  # torchvision.models.segmentation.DeepLabV3
    classes: list[str]
    palette: list[tuple[int, int, int]] | None
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights: str | None  # file the weights came from, None = random init


def build(name: str, *, num_classes: int | None = None, classes: list[str] | None = None,
          weights: str | Path | None = None, warn=None) -> ModelSpec:
    """Build MODEL (see MODELS) in eval mode; weights: a state-dict file, else random init (warned)."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    if name not in MODELS:
        raise ExportError(f"{name}: unknown model (choose one of {', '.join(MODELS)} or give an .onnx file)")
    if classes is not None and num_classes is not None and len(classes) != num_classes:
        raise ExportError(f"--classes lists {len(classes)} names but --num-classes is {num_classes}")
    if name == "reference":
        from edgeseg_models import reference as ref

        n = num_classes or (len(classes) if classes else len(ref.CLASSES))
        model = ref.build_model(num_classes=n)
        default_classes, palette = list(ref.CLASSES), list(ref.PALETTE)
        input_size, mean, std = tuple(ref.INPUT_SIZE), tuple(ref.MEAN), tuple(ref.STD)
        if weights is None and n == len(ref.CLASSES) and Path(ref.WEIGHTS_PATH).is_file():
            weights = ref.WEIGHTS_PATH
    else:
        import torchvision.models.segmentation as seg
        from torchvision.models._meta import _VOC_CATEGORIES

        n = num_classes or (len(classes) if classes else len(_VOC_CATEGORIES))
        model = getattr(seg, name)(weights=None, weights_backbone=None, aux_loss=False, num_classes=n)
        default_classes, palette = list(_VOC_CATEGORIES), None
        input_size, mean, std = DEFAULT_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD
    if classes is None:
        classes = default_classes if n == len(default_classes) else [f"class{i}" for i in range(n)]
    if palette is not None and len(palette) != n:
        palette = None
    if weights is None:
        warn(f"WARNING: no --weights for {name}: the network has RANDOM weights; its output is meaningless "
             "(useful only to test the pipeline and its speed)")
    else:
        load_weights(model, weights, name)
    model.eval()
    return ModelSpec(name=name, model=model, classes=list(classes), palette=palette, input_size=input_size,
                     mean=mean, std=std, weights=None if weights is None else str(weights))


def load_weights(model, path: str | Path, name: str) -> None:
    """Load a state dict safely (weights_only); a mismatch names missing/unexpected keys or shapes."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such weights file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        raise ExportError(f"{path}: not a PyTorch state dict ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:120]})") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ExportError(f"{path}: not a state dict of tensors")
    # torchvision's published checkpoints carry an auxiliary head that inference does not use
    state = {k: v for k, v in state.items() if not k.startswith("aux_classifier.")}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
              if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys ({_few(missing)})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys ({_few(unexpected)})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches ({_few(shapes)})")
        raise ExportError(f"{path}: weights do not fit {name}: " + "; ".join(parts))
    model.load_state_dict(state)


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")
