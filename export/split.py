"""Split a segmentation model into a feature network and a task network at a module boundary.

Usage: ``st = staged(model); feat, task = split_model(st, "classifier.3"); scores = task(feat(x))``

Every architecture is seen as a :class:`Staged` model: a *trunk* (image → one tensor: the encoder plus,
where the head fuses several scales, that fusion) followed by a single-tensor path of *stages*. The split
points are the trunk's name and every stage but the last (the task network is never empty). For torchvision's
DeepLabV3/FCN that is ``backbone`` and ``classifier.I``. ``auto_split`` picks the latest point whose task
network costs ≤ 10 % of the whole (FLOPs of convolutions, matrix products and linear layers, counted by
``torch.utils.flop_counter``). The model's logits = bilinear upsampling of the task output to the input size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeseg.errors import ExportError

TASK_SHARE_LIMIT = 0.10


@dataclass
class Staged:
    """A model as trunk (image → tensor) + stages (tensor → tensor), and how its logits are upsampled."""

    trunk_name: str
    trunk: object  # nn.Module: image → one tensor
    stages: list = field(default_factory=list)  # [(name, nn.Module)], a single-tensor path
    align_corners: bool = False  # of the model's own final bilinear upsampling


def staged_deeplab(model) -> Staged:
    """torchvision's DeepLabV3 / FCN (and the reference model): backbone(x)["out"] → classifier[0..]."""
    from torch import nn

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = model.backbone

        def forward(self, x):
            return self.backbone(x)["out"]

    return Staged("backbone", Backbone(), [(f"classifier.{i}", m) for i, m in enumerate(model.classifier)])


def split_points(st: Staged) -> list[str]:
    """Single-tensor cut names, input → output (the last stage is never a cut: task ≠ ∅)."""
    return [st.trunk_name] + [name for name, _ in st.stages[:-1]]


def _index(st: Staged, point: str) -> int:
    points = split_points(st)
    if point not in points:
        raise ExportError(f"split point {point!r} not found; candidates: {', '.join(points)}")
    return points.index(point) - 1  # -1 = right after the trunk


def split_model(st: Staged, point: str):
    """(feature_net, task_net) torch modules sharing the model's weights."""
    from torch import nn

    k = _index(st, point)
    mods = [m for _, m in st.stages]

    class FeatureNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = st.trunk
            self.head = nn.Sequential(*mods[: k + 1])

        def forward(self, image):
            return self.head(self.trunk(image))

    class TaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Sequential(*mods[k + 1:])

        def forward(self, feature):
            return self.head(feature)

    return FeatureNet().eval(), TaskNet().eval()


def labels_net(task_net, size: tuple[int, int], align_corners: bool = False):
    """task → bilinear upsampling to `size` → argmax → uint8 labels (N, H, W)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class TaskLabels(nn.Module):
        def __init__(self):
            super().__init__()
            self.task = task_net

        def forward(self, feature: torch.Tensor) -> torch.Tensor:
            scores = F.interpolate(self.task(feature), size=size, mode="bilinear", align_corners=align_corners)
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


def segment_flops(st: Staged, input_size: tuple[int, int]) -> dict[str, float]:
    """FLOPs per segment (trunk, then each stage) from one forward pass at batch 1."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    totals = {}
    x = torch.zeros(1, 3, *input_size)
    with torch.no_grad():
        for name, mod in [(st.trunk_name, st.trunk), *st.stages]:
            counter = FlopCounterMode(display=False)
            with counter:
                x = mod(x)
            totals[name] = float(counter.get_total_flops())
    return totals


def costs(st: Staged, input_size: tuple[int, int]) -> list[Cost]:
    """Cost split at every split point, input → output (cumulative segment FLOPs)."""
    seg = list(segment_flops(st, input_size).values())
    return [Cost(point, sum(seg[: j + 1]) / 1e9, sum(seg[j + 1:]) / 1e9) for j, point in enumerate(split_points(st))]


def auto_split(st: Staged, input_size: tuple[int, int], limit: float = TASK_SHARE_LIMIT) -> tuple[str, list[Cost]]:
    """The latest single-tensor cut with task ≤ limit of the whole cost; returns (point, all costs)."""
    table = costs(st, input_size)
    ok = [c for c in table if c.task_share <= limit]
    if not ok:
        raise ExportError(f"--split auto: no cut keeps the task network ≤ {limit:.0%} of the cost ("
                          + ", ".join(f"{c.point} {c.task_share:.0%}" for c in table) + "); give --split NAME")
    return ok[-1].point, table
