"""Outputs: label masks, overlay video, per-frame stats."""
