"""Feature warping and fusion (NumPy on CPU, CuPy on GPU)."""
