"""Procedural labeled street video (`edgeseg synth`): ground truth for benchmarks and training."""
