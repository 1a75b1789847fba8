"""Model bundles: ``DIR/manifest.json`` + ``feature.onnx`` + ``task.onnx`` (+ extras), read and written here.

Usage: ``bundle = load_bundle("out/"); bundle.feature.file, bundle.input_hw, bundle.classes``

The schema is documented in docs/EXPORT.md. Loading checks every listed file: present, inside the bundle
directory, sha256 as recorded; a manifest newer than this runtime is refused; each network's inputs and outputs
fit what the pipeline feeds it and the manifest says (edgeseg.backend.contract). All failures are one-line
BundleErrors naming the bundle and the cause.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from edgeseg.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True, slots=True)
class NetSpec:
    """One network of the bundle: ONNX file (resolved), its input/output tensor names and extra fields."""

    file: Path
    input: str
    output: str
    extra: dict = field(default_factory=dict)  # the manifest entry as written (shape, dtype, upsample, ...)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A loaded, verified bundle. input_hw = (H, W) the networks expect; mean/std per RGB channel on [0, 1]."""

    path: Path
    manifest: dict
    name: str
    input_name: str
    input_hw: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channel_order: str
    stride: int
    feature: NetSpec
    task: NetSpec
    task_labels: NetSpec | None
    classes: list[str]
    palette: list[tuple[int, int, int]]
    precision: str
    align_corners: bool = False  # how the model upsamples its scores (smp heads: True; DeepLab, SegFormer: False)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of one feature map (batch axis dropped)."""
        return tuple(int(d) for d in self.feature.extra["shape"][-3:])

    @property
    def engines_dir(self) -> Path:
        """Where device-specific TensorRT engines are cached (may not exist yet)."""
        return self.path / "engines"

    def net(self, key: str, precision: str | None = None) -> NetSpec | None:
        """Network `key` ("feature", "task", "task_labels") in a precision variant when the bundle has one
        (manifest ``variants``), else the plain fp32 file; None when the bundle has no such network."""
        plain = {"feature": self.feature, "task": self.task, "task_labels": self.task_labels}[key]
        variant = (self.manifest.get("variants") or {}).get(precision or "", {}).get(key)
        if plain is None or not variant:
            return plain
        return NetSpec(file=self.file(variant), input=plain.input, output=plain.output,
                       extra={**plain.extra, "file": variant, "precision": precision})

    def file(self, name: str) -> Path:
        """A listed bundle file by its manifest name (verified at load)."""
        return _inside(self.path, name, self.path)


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(out_dir: str | Path, manifest: dict) -> Path:
    """Hash every file named in ``manifest["files"]`` (keys) and write ``manifest.json``; returns its path."""
    out = Path(out_dir)
    files = {}
    for name in manifest.get("files", {}):
        _inside(out, name, out)
        files[name] = sha256_file(out / name)
    manifest = {**manifest, "schema_version": manifest.get("schema_version", SCHEMA_VERSION), "files": files}
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def read_manifest(path: str | Path) -> dict:
    """The raw manifest of a bundle directory (or of a manifest.json path), unverified."""
    p = Path(path)
    mpath = p / MANIFEST if p.is_dir() else p
    if not p.exists():
        raise BundleError(f"{path}: no such bundle directory")
    if not mpath.is_file():
        raise BundleError(f"{path}: not a bundle (no {MANIFEST})")
    try:
        data = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{mpath}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{mpath}: manifest is not a JSON object")
    return data


def load_bundle(path: str | Path, *, verify: bool = True) -> Bundle:
    """Load and check a bundle directory: files, hashes, and that each network is what the pipeline runs
    (edgeseg.backend.contract). verify=False skips the content checks, sha256 and networks (not the path checks)."""
    root = Path(path)
    if root.is_file() and root.name == MANIFEST:
        root = root.parent
    m = read_manifest(root)
    root = root.resolve()
    version = m.get("schema_version")
    if not isinstance(version, int):
        raise BundleError(f"{path}: manifest has no integer schema_version")
    if version > SCHEMA_VERSION:
        raise BundleError(f"{path}: bundle schema {version} is newer than this edgeseg supports "
                          f"({SCHEMA_VERSION}); upgrade edgeseg")
    files = m.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{path}: manifest lists no files")
    for name, digest in files.items():
        f = _inside(root, name, path)
        if not f.is_file():
            raise BundleError(f"{path}: missing file {name}")
        if verify and sha256_file(f) != digest:
            raise BundleError(f"{path}: hash mismatch for {name} (file changed or corrupt)")
    for precision, nets in (m.get("variants") or {}).items():
        for name in (nets or {}).values():
            if name not in files:
                raise BundleError(f"{path}: {precision} file {name} is not listed in the manifest's files")
    try:
        inp = m["input"]
        feature = _net(m, "feature", root, path)
        task = _net(m, "task", root, path)
        task_labels = _net(m, "task_labels", root, path) if m.get("task_labels") else None
        classes = [str(c) for c in m["classes"]]
        palette = [tuple(int(v) for v in c) for c in m.get("palette") or default_palette(len(classes))]
        bundle = Bundle(
            path=root, manifest=m, name=str(m["model"]), input_name=str(inp["name"]),
            input_hw=(int(inp["height"]), int(inp["width"])),
            mean=tuple(float(v) for v in inp["mean"]), std=tuple(float(v) for v in inp["std"]),
            channel_order=str(inp.get("channel_order", "RGB")), stride=int(m["stride"]),
            feature=feature, task=task, task_labels=task_labels, classes=classes, palette=palette,
            precision=str(m.get("precision", "fp32")), align_corners=bool(m["task"].get("align_corners", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{path}: malformed manifest (field {exc})") from None
    if verify:
        from edgeseg.backend.contract import check_networks

        check_networks(bundle, path)
    return bundle


def _net(m: dict, key: str, root: Path, label) -> NetSpec:
    entry = m[key]
    name = entry["file"]
    if name not in m["files"]:
        raise BundleError(f"{label}: {key} file {name} is not listed in the manifest's files")
    return NetSpec(file=_inside(root, name, label), input=str(entry["input"]), output=str(entry["output"]),
                   extra=dict(entry))


def _inside(root: Path, name: str, label) -> Path:
    """root/name, refusing absolute paths and paths that escape root (symlinks included)."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        raise BundleError(f"{label}: file path {name!r} escapes the bundle directory")
    root = Path(root).resolve()
    target = (root / name).resolve()
    if target != root and root not in target.parents:
        raise BundleError(f"{label}: file path {name!r} escapes the bundle directory")
    return target


def default_palette(n: int) -> list[tuple[int, int, int]]:
    """Pascal-VOC style bit-interleaved colours."""
    out = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out.append((r, g, b))
    return out
