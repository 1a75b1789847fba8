"""`edgeseg inspect BUNDLE`: the manifest, file sizes and the cost split; verifies every file's sha256 and that
each network is what the pipeline runs (edgeseg.backend.contract), as `edgeseg run` does when it opens the bundle.

Usage: ``edgeseg inspect bundle/`` or ``edgeseg inspect bundle/ --json``
"""

from __future__ import annotations

import json

import click


def describe(bundle) -> list[str]:
    """Human-readable lines for a loaded bundle."""
    m = bundle.manifest
    inp, feat, task = m["input"], bundle.feature.extra, bundle.task.extra
    lines = [
        f"bundle     {bundle.path}  (schema {m['schema_version']}, hashes verified, networks fit the manifest)",
        f"model      {bundle.name}" + ("  [RANDOM WEIGHTS]" if (m.get("source") or {}).get("random_weights") else ""),
        f"input      {inp['name']}: N×3×{inp['height']}×{inp['width']} {inp.get('channel_order', 'RGB')} float32, "
        f"mean {inp['mean']} std {inp['std']}",
        f"split      {(m.get('split') or {}).get('point', '?')}  stride {bundle.stride}",
        f"feature    {feat['file']}: {feat['input']} → {feat['output']} {feat.get('shape')}",
        f"task       {task['file']}: {task['input']} → {task['output']} {task.get('shape')}, "
        f"upsample {task.get('upsample', 'none')} to the input size",
    ]
    if bundle.task_labels is not None:
        tl = bundle.task_labels.extra
        lines.append(f"labels     {tl['file']}: {tl['input']} → {tl['output']} {tl.get('shape')} {tl.get('dtype')}")
    lines.append(f"precision  {bundle.precision}" + "".join(
        f"; {p}: {', '.join(v.values())}" for p, v in (m.get("variants") or {}).items()))
    lines.append(f"classes    {len(bundle.classes)}: {', '.join(bundle.classes[:12])}"
                 + (", ..." if len(bundle.classes) > 12 else ""))
    cost = m.get("cost") or {}
    if cost:
        parts = []
        if "feature_ms" in cost:
            parts.append(f"feature {cost['feature_ms']:.2f} ms, task {cost['task_ms']:.2f} ms"
                         + (f", task_labels {cost['task_labels_ms']:.2f} ms" if "task_labels_ms" in cost else "")
                         + f" (onnxruntime CPU, {cost.get('threads', '?')} threads, batch 1, at export)")
        if "feature_gflops" in cost:
            parts.append(f"feature {cost['feature_gflops']:.3f} GFLOP, task {cost['task_gflops']:.4f} GFLOP "
                         f"(task {cost['task_share']:.1%})")
        lines.append("cost       " + "; ".join(parts))
    lines.append(warp_line(bundle))
    parity = m.get("parity") or {}
    if parity:
        lines.append(f"parity     max |Δscore| {parity.get('max_abs_diff', float('nan')):.2e} "
                     f"(tolerance {parity.get('tolerance')})")
    tools = m.get("tools") or {}
    lines.append("tools      " + ", ".join(f"{k} {v}" for k, v in tools.items()))
    lines.append("files")
    for name, digest in m["files"].items():
        size = bundle.file(name).stat().st_size
        lines.append(f"  {name:24s} {size / 1e6:9.2f} MB  sha256 {digest[:16]}… ok")
    if bundle.engines_dir.is_dir():
        for info in sorted(bundle.engines_dir.glob("*/engine.json")):
            lines.append(f"engines    {info.parent.name}: "
                         + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(info.parent.glob('*.engine'))))
    else:
        lines.append("engines    none built (built on the target: edgeseg build-engines BUNDLE, or at the first run)")
    return lines


def warp_line(bundle) -> str:
    """What the feature stride and channels imply between keyframes: cells, values warped, measured ms."""
    c, h, w = bundle.feature_shape
    feat = bundle.manifest["feature"]
    line = (f"warp       stride {feat.get('stride', bundle.stride)} × {feat.get('channels', c)} channels: "
            f"{h}×{w} = {h * w} cells")
    cost = bundle.manifest.get("cost") or {}
    warp = cost.get("warp")
    if not warp:
        return line + f"; interp warps {h * w * c} feature values per frame (at most; fewer if the task is 1×1)"
    line += (f"; interp warps {warp['space']} ({warp['channels_warped']} channels, {warp['values_per_frame']} "
             f"values): {warp['ms']:.3f} ms per frame")
    if "interp_ceiling" in cost:
        line += (f"; interp K={cost.get('interp_k', 10)} ceiling {cost['interp_ceiling']:.2f}× frame mode "
                 "(networks + warps, at export)")
    return line


@click.command()
@click.argument("bundle", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON (after verification).")
def inspect(bundle, as_json):
    """Show a bundle's manifest, file sizes and cost split; verify its file hashes and networks."""
    from edgeseg.backend.bundle import load_bundle

    b = load_bundle(bundle)
    if as_json:
        click.echo(json.dumps(b.manifest, indent=2))
        return
    for line in describe(b):
        click.echo(line)
