"""Hugging Face SegFormer (``segformer-b0`` … ``segformer-b5``), built offline from the published configs.

Usage: ``spec = build("segformer-b2", num_classes=19, weights="run/")`` (a ``save_pretrained`` directory)

The hyperparameters are those of the published MiT-b0…b5 configs; ``config`` (a ``config.json`` or its
directory) replaces them, and a weights directory holding ``config.json`` supplies its own. The all-MLP head
projects the four encoder stages, upsamples them to 1/4 resolution and concatenates them; the trunk ends at
that concatenation and the stages are [linear_fuse, batch_norm, activation, classifier], so the
cut comes after the fusion. Logits are at 1/4 resolution, upsampled bilinearly (align_corners=False).
"""

from __future__ import annotations

import json
from pathlib import Path

from edgeseg_export.checkpoint import first_line

from edgeseg.errors import ExportError

_WIDE = {"hidden_sizes": [64, 128, 320, 512]}
VARIANTS = {  # the published nvidia/mit-b0 … b5 hyperparameters
    "segformer-b0": {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b1": {**_WIDE, "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b2": {**_WIDE, "depths": [3, 4, 6, 3], "decoder_hidden_size": 768},
    "segformer-b3": {**_WIDE, "depths": [3, 4, 18, 3], "decoder_hidden_size": 768},
    "segformer-b4": {**_WIDE, "depths": [3, 8, 27, 3], "decoder_hidden_size": 768},
    "segformer-b5": {**_WIDE, "depths": [3, 6, 40, 3], "decoder_hidden_size": 768},
}
SHAPE_KEYS = ("hidden_sizes", "depths", "decoder_hidden_size", "num_attention_heads", "sr_ratios", "mlp_ratios")


def variant(name: str) -> dict:
    if name not in VARIANTS:
        raise ExportError(f"{name}: unknown SegFormer (choose one of {', '.join(VARIANTS)})")
    return VARIANTS[name]


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ExportError("SegFormer models need transformers: pip install 'edgeseg[export]'") from None
    return transformers


def read_config(path: str | Path) -> dict:
    """The dict of a saved config.json (path to the file or its directory)."""
    p = Path(path)
    p = p / "config.json" if p.is_dir() else p
    try:
        data = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: cannot read a SegFormer config.json ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("model_type", "segformer") != "segformer":
        raise ExportError(f"{p}: not a SegFormer config (model_type {data.get('model_type')!r})")
    return data


def build(name: str, *, num_classes: int | None, weights=None, config=None, log=None):
    """A ModelSpec for SegFormer with random or loaded weights."""
    from edgeseg_export import checkpoint
    from edgeseg_export.zoo import IMAGENET_MEAN, IMAGENET_STD, ModelSpec, generic_classes

    tf = _transformers()
    params = dict(variant(name))
    source = f"published {name} hyperparameters"
    if config is None and weights is not None and Path(weights).is_dir() and (Path(weights) / "config.json").is_file():
        config = weights
    if config is not None:
        saved = read_config(config)
        params = {k: v for k, v in saved.items() if k not in ("architectures", "transformers_version")}
        source = f"config {config}"
    saved_labels = params.pop("id2label", None)
    params.pop("label2id", None)
    params.pop("num_labels", None)
    k = num_classes or (len(saved_labels) if saved_labels else None)
    if not k and weights is not None:
        k = checkpoint.classes_in(weights, "decode_head.classifier.weight")
    if not k:
        raise ExportError(f"{name}: give --num-classes N (" + ("the checkpoint does not say)" if weights is not None
                                                               else "random weights)"))
    try:
        cfg = tf.SegformerConfig(**params, num_labels=k)
        model = tf.SegformerForSemanticSegmentation(cfg)
    except Exception as exc:  # noqa: BLE001 - an inconsistent config
        raise ExportError(f"{name}: cannot build SegFormer from {source} ({type(exc).__name__}: "
                          f"{first_line(exc, 160)})") from None
    if weights is not None:
        hint = f" ({source}: " + ", ".join(f"{key} {getattr(cfg, key)}" for key in SHAPE_KEYS[:3]) + f", {k} classes)"
        state = checkpoint.read_state(weights)
        matched, _ = checkpoint.match_keys(state, model.state_dict())
        if 2 * sum(key in model.state_dict() for key in matched) >= len(model.state_dict()):
            checkpoint.load_into(model, weights, name=name, hint=hint, log=log)
        else:  # the checkpoint's own key names (the hub's, older transformers'): transformers renames them
            model = _from_pretrained(tf, cfg, checkpoint.weights_file(weights), f"{weights}: weights do not fit "
                                     f"{name}{hint}")
    model.eval()
    classes = generic_classes(k)
    if saved_labels and len(saved_labels) == k:
        classes = [str(saved_labels.get(str(i), saved_labels.get(i, f"class{i}"))) for i in range(k)]
    return ModelSpec(name=name, model=model, classes=classes, palette=None, input_size=(512, 512),
                     mean=IMAGENET_MEAN, std=IMAGENET_STD, weights=None if weights is None else str(weights),
                     staged=staged_segformer(model), forward=_logits(model),
                     info={"family": "segformer", "config": {key: _plain(getattr(cfg, key)) for key in SHAPE_KEYS}})


def _from_pretrained(tf, cfg, file: Path, what: str):
    """transformers' own loading (key renames included) from a temporary save_pretrained directory holding
    `cfg` and `file`; any missing, unexpected or mis-shaped key is refused in one line."""
    import shutil
    import tempfile

    from edgeseg_export.checkpoint import describe_mismatch

    verbosity = tf.logging.get_verbosity()
    tf.logging.set_verbosity_error()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cfg.save_pretrained(tmp)
            shutil.copy(file, Path(tmp) / ("model.safetensors" if file.suffix == ".safetensors" else "pytorch_model.bin"))
            model, info = tf.SegformerForSemanticSegmentation.from_pretrained(
                tmp, local_files_only=True, output_loading_info=True, ignore_mismatched_sizes=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable checkpoint
        raise ExportError(f"{what} ({type(exc).__name__}: {first_line(exc, 160)})") from None
    finally:
        tf.logging.set_verbosity(verbosity)
    shapes = [f"{key} {tuple(a)}≠{tuple(b)}" for key, a, b in info.get("mismatched_keys", [])]
    problem = describe_mismatch(list(info.get("missing_keys", [])), list(info.get("unexpected_keys", [])), shapes)
    if problem:
        raise ExportError(f"{what}: {problem}")
    return model


def _plain(v):
    return list(v) if isinstance(v, tuple) else v


def _logits(model):
    def forward(x):
        from torch.nn import functional as F

        return F.interpolate(model(pixel_values=x).logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    return forward


def staged_segformer(model):
    """Trunk = encoder + the head's per-stage MLPs, upsampling and concatenation; then the fusion layers."""
    import torch
    from edgeseg_export.split import Staged
    from torch import nn
    from torch.nn import functional as F

    head = model.decode_head

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.segformer, self.linear_projections = model.segformer, head.linear_projections

        def forward(self, x):
            states = self.segformer(x, output_hidden_states=True).hidden_states
            n, size, out = x.shape[0], states[0].shape[2:], []
            for state, proj in zip(states, self.linear_projections, strict=True):
                h, w = state.shape[2], state.shape[3]
                y = proj(state).transpose(1, 2).reshape(n, -1, h, w)
                out.append(F.interpolate(y, size=size, mode="bilinear", align_corners=False))
            return torch.cat(out[::-1], dim=1)

    if not model.config.reshape_last_stage:
        raise ExportError("SegFormer configs with reshape_last_stage=false are not supported")
    names = ("linear_fuse", "batch_norm", "activation", "classifier")  # the dropout is the identity in eval
    return Staged("decode_head.concat", Trunk(), [(f"decode_head.{n}", getattr(head, n)) for n in names])
