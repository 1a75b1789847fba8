"""Inference backends behind one runner interface (onnxruntime CPU/CUDA, TensorRT)."""
