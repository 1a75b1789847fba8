"""`edgeseg export MODEL --out DIR`: split a segmentation model into feature/task ONNX networks, write a bundle.

Usage: ``edgeseg export smp:DeepLabV3Plus:resnet18 --weights last.ckpt --num-classes 19 --out bundle/``
Needs the torch side: ``pip install 'edgeseg[export]'``.
"""

from __future__ import annotations

import click


def _load_exporter():
    from edgeseg.system.extras import require

    names = ("torch", "torchvision", "onnx", "onnxscript")
    for name in names:
        require(name, purpose=f"edgeseg export ({', '.join(names)})")
    from edgeseg_export import pipeline

    return pipeline


@click.command()
@click.argument("model")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Bundle directory to write.")
@click.option("--weights", type=click.Path(),
              help="Checkpoint: state dict, Lightning .ckpt, model.safetensors or a save_pretrained directory; "
                   "default: random init (warned).")
@click.option("--num-classes", type=click.IntRange(1, 10000), help="Number of classes (default: the model's).")
@click.option("--classes", "classes_file", type=click.Path(), help="Class names: JSON list or one per line.")
@click.option("--input-size", help="Network input HxW, e.g. 360x480 (default: the model's).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True)
@click.option("--split", default="auto", show_default=True,
              help="Cut point: auto, a module name (backbone, classifier.N) or, for an .onnx MODEL, a tensor name.")
@click.option("--config", type=click.Path(), help="SegFormer: a saved config.json (or its directory).")
@click.option("--calib", help="Video source whose frames calibrate int8 (file, rtsp://, camera).")
@click.option("--engines/--no-engines", default=True, show_default=True,
              help="Build TensorRT engines now when TensorRT and a GPU are present.")
def export(model, out, weights, num_classes, classes_file, input_size, precision, split, config, calib, engines):
    """Export MODEL as a bundle: manifest.json + feature.onnx + task.onnx (+ task_labels.onnx, variants).

    MODEL: torchvision deeplabv3_mobilenet_v3_large, deeplabv3_resnet50/101, fcn_resnet50/101,
    lraspp_mobilenet_v3_large; smp:<Arch>:<encoder> (segmentation-models-pytorch, e.g. smp:FPN:mobilenet_v2);
    segformer-b0 … segformer-b5; reference; or an .onnx file."""
    from edgeseg_export.pipeline import parse_input_size, read_classes

    hw = parse_input_size(input_size) if input_size is not None else None
    classes = read_classes(classes_file) if classes_file else None
    pipeline = _load_exporter()
    path = pipeline.export(model, out=out, weights=weights, num_classes=num_classes, classes=classes,
                           input_size=hw, precision=precision, split=split, calib=calib, engines=engines, config=config,
                           log=lambda m: click.echo(m, err=True))
    click.echo(f"bundle written: {path}")
