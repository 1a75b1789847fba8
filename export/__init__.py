"""The torch side of edgeseg: DeepLab split into feature/task networks, ONNX export, parity, bundles, engines.

Usage: ``from edgeseg_export.pipeline import export; export("deeplabv3_mobilenet_v3_large", out="b/")``
Needs ``pip install 'edgeseg[export]'`` (torch, torchvision, onnx); the runtime (`edgeseg`) never imports this.
"""
