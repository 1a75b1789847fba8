"""Load weights as training loops save them into a model, with one-line errors on any mismatch.

Usage: ``load_into(model, "epoch=9.ckpt", name="smp:Unet:resnet18")``

Accepted: plain state dicts (``torch.save(model.state_dict())``); dicts that hold one under ``state_dict``
(PyTorch Lightning ``.ckpt``), ``model``, ``model_state_dict`` or ``module``; keys prefixed ``model.``,
``module.``, ``net.``, ``_orig_mod.`` (Lightning attributes, DataParallel, torch.compile); transformers
``model.safetensors`` files, or a ``save_pretrained`` directory holding one. Files are read with
``weights_only=True``: nothing in them is executed.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from edgeseg.errors import ExportError

CONTAINERS = ("state_dict", "model_state_dict", "model", "module")
PREFIXES = ("model.", "module.", "net.", "_orig_mod.")


def weights_file(path: str | Path) -> Path:
    """The weights file itself: `path`, or the model.safetensors / pytorch_model.bin inside a directory."""
    path = Path(path)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).is_file():
                return path / name
        raise ExportError(f"{path}: directory holds no model.safetensors or pytorch_model.bin")
    if not path.is_file():
        raise ExportError(f"{path}: no such weights file")
    return path


def read_state(path: str | Path) -> dict:
    """{key: tensor} from a checkpoint file or directory (containers unwrapped, prefixes kept)."""
    import torch

    path = weights_file(path)
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ExportError(f"{path}: reading .safetensors needs safetensors: pip install 'edgeseg[export]'") from None
        try:
            return dict(load_file(str(path)))
        except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
            raise ExportError(f"{path}: not a safetensors file ({first_line(exc)})") from None
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the one-line error says it all
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found and "Weights only load failed" in str(exc):
            raise ExportError(f"{path}: holds Python objects that are not loaded, for safety ({found[1]}); save its "
                              "state dict alone: torch.save(ckpt['state_dict'], 'weights.pt')") from None
        raise ExportError(f"{path}: not a PyTorch state dict ({_unreadable(path, exc)})") from None
    for _ in range(2):  # e.g. {"state_dict": {...}} or {"model": {"state_dict": ...}}
        if isinstance(state, dict) and not _is_state(state):
            inner = next((state[k] for k in CONTAINERS if isinstance(state.get(k), dict)), None)
            state = inner if inner is not None else state
    if not isinstance(state, dict) or not state or not _is_state(state):
        raise ExportError(f"{path}: not a state dict of tensors (no tensors at the top level or under "
                          f"{', '.join(CONTAINERS)})")
    return state


def classes_in(path: str | Path, head_key: str) -> int | None:
    """The class count of a checkpoint: rows of the tensor whose key ends with `head_key` (any prefix)."""
    hits = [v for k, v in read_state(path).items() if k == head_key or k.endswith("." + head_key)]
    return int(hits[0].shape[0]) if len(hits) == 1 and hits[0].ndim >= 1 else None


def _is_state(d: dict) -> bool:
    import torch

    return bool(d) and all(isinstance(v, torch.Tensor) for v in d.values())


def first_line(exc: BaseException, limit: int = 120) -> str:
    """The first line of an exception's message, shortened by `brief` (never cut inside a word)."""
    return brief((str(exc).strip().splitlines() or [""])[0], limit)


def brief(text: str, limit: int = 120) -> str:
    """`text` on one line, at most `limit` characters: cut after its last whole sentence that fits, else after its
    last whole word (then "…"); never inside a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    sentence = max(head.rfind(". "), head.rfind("; "))
    if sentence >= limit // 3:
        return head[:sentence + 1].rstrip(";") if head[sentence] == "." else head[:sentence]
    return head.rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _unreadable(path: Path, exc: Exception) -> str:
    """Why torch.load could not read `path`, in a few words: what the file is, else torch's own reason (without
    its advice about the weights_only default, which does not apply to a file that is no checkpoint)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80":  # torch.save: a zip archive; before 1.6, a pickle
        try:
            head.decode("utf-8")
            is_text = b"\x00" not in head
        except UnicodeDecodeError as err:
            is_text = err.start >= len(head) - 3  # a character cut at the 4096-byte boundary
        kind = "a text file" if is_text else "neither a zip archive nor a pickle"
        return f"{kind}, not a checkpoint written by torch.save"
    text = str(exc)
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\n\n|$)", text, re.S)
    if found:
        text = found[1]
    return f"a damaged checkpoint: {type(exc).__name__}: {brief(text)}"


def match_keys(state: dict, own_keys) -> tuple[dict, str]:
    """Strip the prefixes (repeatedly, e.g. ``model.module.``) that make most keys match `own_keys`;
    keys outside a stripped prefix (a loss module, an EMA copy) are dropped. Returns (state, prefix)."""
    own = set(own_keys)
    best, best_prefix = state, ""
    prefix = ""
    current = state
    while True:
        hits = {p: sum(k[len(p):] in own for k in current if k.startswith(p)) for p in PREFIXES}
        p, n = max(hits.items(), key=lambda kv: kv[1])
        if n == 0 or n <= sum(k in own for k in current):
            break
        prefix += p
        current = {k[len(p):]: v for k, v in current.items() if k.startswith(p)}
        best, best_prefix = current, prefix
    return best, best_prefix


def check_fit(state: dict, own: dict, what: str) -> None:
    """Raise one line naming the missing, unexpected and mis-shaped keys, if any."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k} {tuple(state[k].shape)}≠{tuple(own[k].shape)}" for k in own
              if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problem = describe_mismatch(missing, unexpected, shapes)
    if problem:
        raise ExportError(f"{what}: {problem}")


def describe_mismatch(missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    """'missing N keys (a, b, ...); unexpected ...; N shape mismatches (...)', or '' when all fit."""
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} keys ({_few(missing)})")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} keys ({_few(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches ({_few(shapes)})")
    return "; ".join(parts)


def load_into(model, path: str | Path, *, name: str, ignore: tuple[str, ...] = (), hint: str = "", log=None) -> None:
    """Load the checkpoint at `path` into `model` (strict), after unwrapping and prefix matching.
    `ignore`: key prefixes dropped from the checkpoint (e.g. torchvision's ``aux_classifier.``)."""
    own = model.state_dict()
    state, prefix = match_keys(read_state(path), own)
    state = {k: v for k, v in state.items() if not k.startswith(ignore)} if ignore else state
    check_fit(state, own, f"{path}: weights do not fit {name}{hint}")
    if prefix and log:
        log(f"weights: stripped key prefix {prefix!r}")
    model.load_state_dict(state)


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")
