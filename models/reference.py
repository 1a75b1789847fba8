"""The reference model: a reduced-width DeepLabV3+ on a MobileNetV3-Large backbone, trained on `edgeseg synth` video.

Usage: ``model = build_model(); model.load_state_dict(torch.load(WEIGHTS_PATH)); model(x)["out"]``

Structure (torchvision ``DeepLabV3(backbone, classifier)``; the backbone is an encoder with a low-level skip, as in
DeepLabV3+):
- backbone (``Encoder``): ``mobilenet_v3_large(width_mult=0.5, reduced_tail=True, dilated=True).features``;
  ``ASPP(240, rates=(6, 12, 18), out_channels=96)`` on its last block (stride 16), upsampled bilinearly to
  stride 8 and concatenated with a 1×1 conv/BN/ReLU projection (24 ch) of the stride-8 block ``features[6]``;
  returns ``{"out": that 120-channel stride-8 tensor}``;
- classifier: 3×3 conv/BN/ReLU (64 ch) → 1×1 conv to classes.

The runtime splits it after the classifier's ReLU (``classifier[2]``): the feature network is the encoder + 3×3
conv/BN/ReLU (``FEATURE_CHANNELS`` channels at stride ``OUTPUT_STRIDE``), the task network is the final 1×1
conv (``classifier[3]``). Input: RGB in [0, 1], normalised with ``MEAN``/``STD``, NCHW float32.
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
OUTPUT_STRIDE = 8
FEATURE_CHANNELS = 64  # channels of the split point (classifier ReLU output)
SPLIT_MODULE = "classifier.2"  # the ReLU after which the runtime splits (feature | task)
WEIGHTS_PATH: Path = Path(__file__).resolve().parent / "reference" / "weights.pt"
BUNDLE_PATH: Path = Path(__file__).resolve().parent / "reference" / "bundle"

_ASPP_RATES = (6, 12, 18)
_ASPP_CHANNELS = 96
_LOW_BLOCKS = 7  # features[:7] end at stride 8
_LOW_PROJECTED = 24  # channels of the skip's 1×1 projection


def _encoder():
    """The DeepLabV3+ encoder as a torchvision-style backbone: ``encoder(x)["out"]`` is the stride-8 fusion."""
    import torch
    from torch import nn
    from torch.nn import functional as F
    from torchvision.models import mobilenet_v3_large
    from torchvision.models.segmentation.deeplabv3 import ASPP

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            features = mobilenet_v3_large(weights=None, width_mult=0.5, reduced_tail=True, dilated=True).features
            self.low = features[:_LOW_BLOCKS]
            self.high = features[_LOW_BLOCKS:]
            self.aspp = ASPP(self.high[-1].out_channels, list(_ASPP_RATES), out_channels=_ASPP_CHANNELS)  # 240
            low_channels = self.low[-1].out_channels  # 24 at width 0.5
            self.project = nn.Sequential(nn.Conv2d(low_channels, _LOW_PROJECTED, 1, bias=False),
                                         nn.BatchNorm2d(_LOW_PROJECTED), nn.ReLU())

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            low = self.low(x)
            context = F.interpolate(self.aspp(self.high(low)), size=low.shape[-2:], mode="bilinear",
                                    align_corners=False)
            return {"out": torch.cat([context, self.project(low)], 1)}

    return Encoder()


def build_model(num_classes: int = len(CLASSES)):
    """Randomly initialised reference DeepLabV3+ (no hub download); ``model(x)["out"]`` is N×classes×H×W logits."""
    from torch import nn
    from torchvision.models.segmentation.deeplabv3 import DeepLabV3

    classifier = nn.Sequential(
        nn.Conv2d(_ASPP_CHANNELS + _LOW_PROJECTED, FEATURE_CHANNELS, 3, padding=1, bias=False),
        nn.BatchNorm2d(FEATURE_CHANNELS),
        nn.ReLU(),
        nn.Conv2d(FEATURE_CHANNELS, num_classes, 1),
    )
    return DeepLabV3(_encoder(), classifier, aux_classifier=None)


def load_model(path: str | Path = WEIGHTS_PATH):
    """The trained reference model in eval mode (weights from ``path``, a state dict)."""
    import torch

    model = build_model()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()
