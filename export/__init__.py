"""The torch side of edgeseg: segmentation models (torchvision, smp, SegFormer, ONNX files) split into
feature/task networks, ONNX export, parity, bundles, engines.

Usage: ``from edgeseg_export.pipeline import export; export("smp:FPN:mobilenet_v2", out="b/", num_classes=19)``
Needs ``pip install 'edgeseg[export]'`` (torch, torchvision, onnx, segmentation-models-pytorch, transformers);
the runtime (`edgeseg`) never imports this.
"""
