"""Measuring accuracy and throughput: mIoU from confusion matrices, and the every-mode table of `edgeseg bench`."""
