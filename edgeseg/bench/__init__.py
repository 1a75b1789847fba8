"""Measuring accuracy and throughput: mIoU from confusion matrices, temporal consistency (TC, VC_n), the
frontier, and the every-mode table of `edgeseg bench`."""
