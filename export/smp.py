"""segmentation-models-pytorch models (``smp:<Arch>:<encoder>``), built offline, seen as trunk + head.

Usage: ``spec = build("smp:DeepLabV3Plus:resnet18", num_classes=19, weights="last.ckpt")``

Built with ``encoder_weights=None``: nothing is downloaded. Every smp model is encoder → decoder →
segmentation head [conv, upsampling, activation]. The decoder fuses the encoder's scales (DeepLabV3+'s skip,
FPN's pyramid, U-Net's skips), so the trunk ends at the decoder's output: the cut comes after the fusion
and the task network is the head's conv. The head upsamples with ``align_corners=True``; the manifest says so.
"""

from __future__ import annotations

from edgeseg_export.checkpoint import first_line

from edgeseg.errors import ExportError


def _smp():
    try:
        import segmentation_models_pytorch as smp
    except ImportError:
        raise ExportError("smp models need segmentation-models-pytorch: pip install 'edgeseg[export]'") from None
    return smp


def architectures() -> dict:
    """{name: class} of smp's architectures."""
    return {a.__name__: a for a in _smp()._MODEL_ARCHITECTURES}


def parse_name(name: str) -> tuple[str, str]:
    """'smp:<Arch>:<encoder>' → (Arch, encoder); unknown parts are refused with the valid names."""
    parts = name.split(":")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise ExportError(f"{name}: expected smp:<Arch>:<encoder>, e.g. smp:DeepLabV3Plus:resnet18")
    archs = architectures()
    by_lower = {a.lower(): a for a in archs}
    arch = by_lower.get(parts[1].lower())
    if arch is None:
        raise ExportError(f"{name}: unknown smp architecture {parts[1]!r} (choose one of {', '.join(archs)})")
    encoders = _smp().encoders.get_encoder_names()
    enc = parts[2]
    if enc not in encoders and not enc.startswith("tu-"):
        raise ExportError(f"{name}: unknown smp encoder {enc!r} (choose one of {', '.join(encoders)}, "
                          "or tu-<timm model>)")
    return arch, enc


def build(name: str, *, num_classes: int | None, weights=None, log=None):
    """A ModelSpec for an smp model with random or loaded weights."""
    from edgeseg_export import checkpoint
    from edgeseg_export.zoo import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, generic_classes

    arch, enc = parse_name(name)
    k = num_classes or (checkpoint.classes_in(weights, "segmentation_head.0.weight") if weights is not None else None)
    if not k:
        raise ExportError(f"{name}: give --num-classes N (the checkpoint does not say)" if weights is not None
                          else f"{name}: give --num-classes N (random weights)")
    try:
        model = architectures()[arch](encoder_name=enc, encoder_weights=None, classes=k)
    except Exception as exc:  # noqa: BLE001 - smp/timm refuse some encoder × architecture pairs
        raise ExportError(f"{name}: smp cannot build it ({type(exc).__name__}: "
                          f"{first_line(exc, 160)})") from None
    if weights is not None:
        checkpoint.load_into(model, weights, name=name, log=log)
    model.eval()
    staged = staged_smp(model)
    canon = f"smp:{arch}:{enc}"
    return ModelSpec(name=canon, model=model, classes=generic_classes(k), palette=None, input_size=(512, 512),
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, weights=None if weights is None else str(weights),
                     staged=staged, forward=model, info={"family": "smp", "architecture": arch, "encoder": enc,
                                                         "output_stride": int(model.encoder.output_stride)})


def staged_smp(model):
    """Trunk = encoder + decoder (the fusion of scales); stages = the head's layers before its upsampling."""
    from edgeseg_export.split import Staged
    from torch import nn

    if getattr(model, "classification_head", None) is not None:
        raise ExportError("smp models with an auxiliary classification head are not supported (aux_params)")

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = model.encoder, model.decoder

        def forward(self, x):
            return self.decoder(self.encoder(x))

    stages, align = [], False
    for i, m in enumerate(model.segmentation_head):
        if isinstance(m, (nn.Upsample, nn.UpsamplingBilinear2d)):
            if m.mode != "bilinear":
                raise ExportError(f"smp head upsamples with {m.mode!r}; only bilinear is supported")
            align = bool(m.align_corners)
            continue
        if isinstance(m, nn.Identity) or (type(m).__name__ == "Activation" and isinstance(m.activation, nn.Identity)):
            continue
        stages.append((f"segmentation_head.{i}", m))
    if not stages:
        raise ExportError("smp model has an empty segmentation head")
    return Staged("decoder", Trunk(), stages, align_corners=align)
