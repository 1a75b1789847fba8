"""`edgeseg verify BUNDLE`: compare the GPU backends (TensorRT, onnxruntime CUDA) with onnxruntime CPU.

Usage: ``edgeseg verify bundle/ --batch 2``; exits 1 when a backend disagrees beyond the tolerance.
"""

from __future__ import annotations

import click
import numpy as np

from edgeseg.backend.open import BACKENDS
from edgeseg.cli.choices import RegistryChoice
from edgeseg.errors import ConfigError

# max |Δscore| ≤ tol · max(1, max |score|); int8 is reported, not judged
TOLERANCE = {"fp32": 1e-2, "fp16": 5e-2}


def compare(bundle, kind: str, *, batch: int = 2, precision: str | None = None, seed: int = 0) -> dict:
    """Run feature → task (and task_labels) on `kind` and on ort-cpu (fp32) with the same inputs."""
    from edgeseg.backend import open_backend

    precision = precision or bundle.precision
    h, w = bundle.input_hw
    entry = bundle.manifest.get("calibration")
    if entry:
        imgs = np.load(bundle.file(entry["file"]))[:batch].astype(np.float32) / 255.0
        x = ((imgs - np.asarray(bundle.mean, np.float32)) / np.asarray(bundle.std, np.float32)).transpose(0, 3, 1, 2)
        x = np.ascontiguousarray(x, np.float32)
    else:
        x = np.random.default_rng(seed).standard_normal((batch, 3, h, w)).astype(np.float32)
    with open_backend(bundle, "ort-cpu", precision="fp32") as ref, \
            open_backend(bundle, kind, precision=precision) as dut:
        return _compare(ref, dut, x, precision, batch)


def _compare(ref, dut, x, precision: str, batch: int) -> dict:
    """compare()'s measurements on the reference and the tested backend, open."""
    rf = ref.features(x)
    rs = ref.scores(rf)
    df = dut.features(x)
    ds = dut.scores(rf)  # task alone, on the same features
    dss = dut.scores(df)  # the whole chain
    scale = max(1.0, float(np.abs(rs).max()))
    out = {"backend": dut.name, "precision": precision, "batch": batch,
           "feature_max_abs_diff": float(np.abs(df - rf).max()),
           "task_max_abs_diff": float(np.abs(ds - rs).max()),
           "chain_max_abs_diff": float(np.abs(dss - rs).max()), "score_scale": scale,
           "label_agreement": float((dss.argmax(1) == rs.argmax(1)).mean())}
    if ref.task_labels is not None and dut.task_labels is not None:
        out["task_labels_agreement"] = float((dut.labels(rf) == ref.labels(rf)).mean())
    tol = TOLERANCE.get(precision)
    out["tolerance"] = tol
    out["ok"] = tol is None or (out["chain_max_abs_diff"] <= tol * scale and out["label_agreement"] >= 0.99)
    return out


@click.command()
@click.argument("bundle", type=click.Path())
@click.option("--backend", "kinds", multiple=True, type=RegistryChoice(BACKENDS, where=lambda kind: kind.on_device),
              help="GPU backend(s) to check (default: every one available here).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), help="Default: the bundle's.")
@click.option("--batch", type=click.IntRange(1, 64), default=2, show_default=True)
def verify(bundle, kinds, precision, batch):
    """Compare TensorRT / onnxruntime-CUDA against onnxruntime CPU on the bundle's networks."""
    from edgeseg.backend import available_kinds
    from edgeseg.backend.bundle import load_bundle

    b = load_bundle(bundle)
    have = [k for k in available_kinds() if BACKENDS.get(k).on_device]
    kinds = list(kinds) or have
    if not kinds:
        raise ConfigError("verify needs a GPU backend to compare with onnxruntime CPU: none here "
                          "(install 'edgeseg[gpu]' - TensorRT, onnxruntime-gpu, CuPy - on a CUDA machine); "
                          "Polygraphy users: polygraphy run BUNDLE/feature.onnx --trt --onnxrt")
    bad = False
    for kind in kinds:
        r = compare(b, kind, batch=batch, precision=precision)
        verdict = "ok" if r["ok"] else "MISMATCH"
        tol = "reported only" if r["tolerance"] is None else f"tolerance {r['tolerance']}·{r['score_scale']:.3g}"
        click.echo(f"{r['backend']:8s} {r['precision']}: feature Δ {r['feature_max_abs_diff']:.3g}, task Δ "
                   f"{r['task_max_abs_diff']:.3g}, chain Δ {r['chain_max_abs_diff']:.3g} ({tol}), labels agree "
                   f"{r['label_agreement']:.2%}" + (f", task_labels agree {r['task_labels_agreement']:.2%}"
                                                     if "task_labels_agreement" in r else "") + f"  {verdict}")
        bad |= not r["ok"]
    if bad:
        raise click.exceptions.Exit(1)
