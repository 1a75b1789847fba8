"""Split a torchvision DeepLabV3 into a feature network and a task network at a module boundary.

Usage: ``feat, task = split_model(model, "classifier.3"); scores = task(feat(x))`` (scores at feature resolution)

Split points are module names along DeepLabV3's single-tensor path: ``backbone`` (backbone output) and
``classifier.I`` (after the I-th module of the head; DeepLabHead = [ASPP, 3×3 conv, BN, ReLU, 1×1 conv]).
``auto_split`` picks the latest point whose task network costs ≤ 10% of the whole (FLOPs counted in one forward
pass with hooks). The full model's logits = bilinear upsampling (align_corners=False) of the task output.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeseg.errors import ExportError

TASK_SHARE_LIMIT = 0.10


def split_points(model) -> list[str]:
    """Single-tensor cut names, input → output (the last module of the head is never a cut: task ≠ ∅)."""
    return ["backbone"] + [f"classifier.{i}" for i in range(len(model.classifier) - 1)]


def _index(model, point: str) -> int:
    points = split_points(model)
    if point not in points:
        raise ExportError(f"split point {point!r} not found; candidates: {', '.join(points)}")
    return points.index(point) - 1  # -1 = after the backbone


def split_model(model, point: str):
    """(feature_net, task_net) torch modules sharing the model's weights."""
    import torch
    from torch import nn

    k = _index(model, point)
    head = list(model.classifier)

    class FeatureNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = model.backbone
            self.head = nn.Sequential(*head[: k + 1])

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.head(self.backbone(image)["out"])

    class TaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Sequential(*head[k + 1:])

        def forward(self, feature: torch.Tensor) -> torch.Tensor:
            return self.head(feature)

    return FeatureNet().eval(), TaskNet().eval()


def labels_net(task_net, size: tuple[int, int]):
    """task → bilinear upsampling to `size` → argmax → uint8 labels (N, H, W)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class TaskLabels(nn.Module):
        def __init__(self):
            super().__init__()
            self.task = task_net

        def forward(self, feature: torch.Tensor) -> torch.Tensor:
            scores = F.interpolate(self.task(feature), size=size, mode="bilinear", align_corners=False)
            return scores.argmax(1).to(torch.uint8)

    return TaskLabels().eval()


@dataclass
class Cost:
    """FLOPs of the feature and task networks at one input size (multiply-accumulate = 2 FLOPs)."""

    point: str
    feature_gflops: float
    task_gflops: float

    @property
    def task_share(self) -> float:
        total = self.feature_gflops + self.task_gflops
        return self.task_gflops / total if total else 0.0


def _layer_flops(mod, out) -> float:
    """FLOPs of one layer call: conv/linear 2·MACs, elementwise layers one per output element."""
    from torch import nn

    if isinstance(mod, nn.Conv2d):
        kh, kw = mod.kernel_size
        return 2.0 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
    if isinstance(mod, nn.Linear):
        return 2.0 * out.numel() * mod.in_features
    if isinstance(mod, (nn.BatchNorm2d, nn.ReLU, nn.Hardswish, nn.Hardsigmoid, nn.AdaptiveAvgPool2d)):
        return float(out.numel())
    return 0.0


def segment_flops(model, input_size: tuple[int, int]) -> dict[str, float]:
    """FLOPs per segment (backbone, classifier.0, ...) from ONE forward pass with hooks on every layer."""
    import torch

    totals: dict[str, float] = {}
    handles = []
    segments = [("backbone", model.backbone)] + [(f"classifier.{i}", m) for i, m in enumerate(model.classifier)]
    for name, seg in segments:
        totals[name] = 0.0

        def hook(mod, _inputs, output, name=name):
            if isinstance(output, torch.Tensor):
                totals[name] += _layer_flops(mod, output)

        handles += [m.register_forward_hook(hook) for m in seg.modules()]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, *input_size))
    finally:
        for h in handles:
            h.remove()
    return totals


def costs(model, input_size: tuple[int, int]) -> list[Cost]:
    """Cost split at every split point, input → output (cumulative segment FLOPs)."""
    seg = list(segment_flops(model, input_size).values())
    return [Cost(point, sum(seg[: j + 1]) / 1e9, sum(seg[j + 1:]) / 1e9)
            for j, point in enumerate(split_points(model))]


def auto_split(model, input_size: tuple[int, int], limit: float = TASK_SHARE_LIMIT) -> tuple[str, list[Cost]]:
    """The latest single-tensor cut with task ≤ limit of the whole cost; returns (point, all costs)."""
    table = costs(model, input_size)
    ok = [c for c in table if c.task_share <= limit]
    if not ok:
        raise ExportError(f"--split auto: no cut keeps the task network ≤ {limit:.0%} of the cost "
                          f"(best {min(c.task_share for c in table):.0%}); give --split NAME")
    return ok[-1].point, table
