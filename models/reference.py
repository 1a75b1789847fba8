"""The reference model: a reduced-width DeepLabV3 on a MobileNetV3-Large backbone, trained on `edgeseg synth` video.

Usage: ``model = build_model(); model.load_state_dict(torch.load(WEIGHTS_PATH)); model(x)["out"]``

Structure (torchvision ``DeepLabV3(backbone, classifier)``):
- backbone: ``mobilenet_v3_large(width_mult=0.5, reduced_tail=True, dilated=True).features`` wrapped so that it
  returns ``{"out": C5}`` (240 channels, output stride 16);
- classifier: ``ASPP(240, rates=(6, 12, 18), out_channels=96)`` → 3×3 conv/BN/ReLU (96 ch) → 1×1 conv to classes.

The runtime splits it after the classifier's ReLU (``classifier[3]``): the feature network is backbone + ASPP +
3×3 conv/BN/ReLU (``FEATURE_CHANNELS`` channels at stride ``OUTPUT_STRIDE``), the task network is the final 1×1
conv (``classifier[4]``). Input: RGB in [0, 1], normalised with ``MEAN``/``STD``, NCHW float32.
"""

from __future__ import annotations

from pathlib import Path

CLASSES: list[str] = ["sky", "building", "road", "sidewalk", "vegetation", "car", "pedestrian", "pole"]
# "pole" covers poles and the signs on them. Class index = position; label PNGs store these indices.
PALETTE: list[tuple[int, int, int]] = [
    (128, 128, 128),  # sky
    (128, 0, 0),  # building
    (128, 64, 128),  # road
    (0, 0, 192),  # sidewalk
    (128, 128, 0),  # vegetation
    (64, 0, 128),  # car
    (64, 64, 0),  # pedestrian
    (192, 192, 128),  # pole
]
INPUT_SIZE: tuple[int, int] = (360, 480)  # (H, W): native size, the synth default
MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)  # RGB, applied to pixels scaled to [0, 1]
STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
OUTPUT_STRIDE = 16
FEATURE_CHANNELS = 96  # channels of the split point (classifier ReLU output)
SPLIT_MODULE = "classifier.3"  # the ReLU after which the runtime splits (feature | task)
WEIGHTS_PATH: Path = Path(__file__).resolve().parent / "reference" / "weights.pt"
BUNDLE_PATH: Path = Path(__file__).resolve().parent / "reference" / "bundle"

_BACKBONE_CHANNELS = 240
_ASPP_RATES = (6, 12, 18)


def build_model(num_classes: int = len(CLASSES)):
    """Randomly initialised reference DeepLabV3 (no hub download); ``model(x)["out"]`` is N×classes×H×W logits."""
    from torch import nn
    from torchvision.models import mobilenet_v3_large
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabV3

    features = mobilenet_v3_large(weights=None, width_mult=0.5, reduced_tail=True, dilated=True).features
    backbone = IntermediateLayerGetter(features, return_layers={str(len(features) - 1): "out"})
    classifier = nn.Sequential(
        ASPP(_BACKBONE_CHANNELS, list(_ASPP_RATES), out_channels=FEATURE_CHANNELS),
        nn.Conv2d(FEATURE_CHANNELS, FEATURE_CHANNELS, 3, padding=1, bias=False),
        nn.BatchNorm2d(FEATURE_CHANNELS),
        nn.ReLU(),
        nn.Conv2d(FEATURE_CHANNELS, num_classes, 1),
    )
    return DeepLabV3(backbone, classifier, aux_classifier=None)


def load_model(path: str | Path = WEIGHTS_PATH):
    """The trained reference model in eval mode (weights from ``path``, a state dict)."""
    import torch

    model = build_model()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
