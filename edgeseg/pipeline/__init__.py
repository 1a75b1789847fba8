"""The per-stream pipeline: schedule → backend → warp/fuse, and the run loop that feeds sinks."""
