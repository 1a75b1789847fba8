"""Bulk archive segmentation (`edgeseg batch`)."""
