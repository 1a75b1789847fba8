"""`edgeseg info`: the environment, for bug reports and "why is it slow" questions."""

from __future__ import annotations

import json

import click


def _yesno(flag) -> str:
    return "yes" if flag else "no"


def _version(entry: dict) -> str:
    return entry.get("version", "?") if entry.get("installed") else "not installed"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(as_json: bool) -> None:
    """Show versions, codecs, inference providers and GPUs."""
    from edgeseg.system.info import environment

    env = environment()
    if as_json:
        click.echo(json.dumps(env, indent=2))
        return
    av, ort = env["pyav"], env["onnxruntime"]
    lines = [
        f"edgeseg        {env['edgeseg']}  (python {env['python']}, {env['platform']})",
        f"cpus           {env['cpu_count']}" + ("  [jetson]" if env["jetson"] else ""),
        f"pyav           {_version(av)}",
    ]
    if av.get("installed"):
        ff = av.get("ffmpeg", {})
        lines += [
            f"  ffmpeg       libavcodec {ff.get('libavcodec', '?')}, libavformat {ff.get('libavformat', '?')}",
            f"  h264 decode  {_yesno(av['h264_decoder'])}, motion vectors: {_yesno(av['h264_motion_vectors'])}",
            f"  libx264      {_yesno(av['libx264_encoder'])}",
        ]
    lines.append(f"onnxruntime    {_version(ort)}")
    if ort.get("installed"):
        lines.append(f"  providers    {', '.join(ort['providers']) or 'none'}")
    lines += [
        f"tensorrt       {_version(env['tensorrt'])}",
        f"cupy           {_version(env['cupy'])}",
        f"torch          {'installed (export only)' if env['torch']['installed'] else 'not installed'}",
    ]
    hw = [name for name, e in env["encoders"]["hardware"].items() if e["works"]]
    in_build = [name for name, e in env["encoders"]["hardware"].items() if e["in_build"] and not e["works"]]
    lines.append(f"hw encoders    {', '.join(hw) or 'none working'}"
                 + (f" (in FFmpeg's build, not usable here: {', '.join(in_build)})" if in_build else "")
                 + f"; overlay uses {env['encoders']['overlay']}")
    lines.append(f"kernels        {env['kernels']}")
    lines.append("extras         " + ", ".join(f"{extra}: {'yes' if not gone else 'missing ' + '/'.join(gone)}"
                                             for extra, gone in env["extras"].items()))
    gpus = env["gpu"]["devices"]
    if gpus:
        for g in gpus:
            lines.append(f"gpu            {g['name']} (sm {g['compute_capability']}, {g['memory']}, driver {g['driver']})")
    else:
        lines.append("gpu            none")
    click.echo("\n".join(lines))
