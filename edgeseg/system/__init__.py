"""What this machine and installation have: optional dependencies and the extras that bring them, the
compiled kernels and their cache, and the report of `edgeseg info`."""
