"""Bulk archive segmentation (`edgeseg batch`): inputs → IDR shards → a process pool or Ray → outputs per input.

Usage: ``run_batch(["archive/"], out=Path("out"), spec=SegmentSpec(), engine=LocalEngine(workers=2))``
(edgeseg.batch.job; docs/BATCH.md)
"""
