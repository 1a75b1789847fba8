"""Optional compiled kernels: numba when it is installed, else the callers' NumPy code.

Usage: ``kernel = compiled(_python_kernel)``; ``kernel(...) if kernel else numpy_path(...)``

Per-frame label upsampling, warping and motion-field building do little arithmetic on small maps; in NumPy
their cost is mostly per-call overhead and temporaries. numba compiles the plain loops once (cached on disk next to the module) and
releases the GIL while they run. ``EDGESEG_NO_JIT=1`` forces the NumPy paths (tests compare the two).
"""

from __future__ import annotations

import functools
import os


@functools.cache
def _numba():
    if os.environ.get("EDGESEG_NO_JIT", "") not in ("", "0"):
        return None
    try:
        import numba
    except ImportError:
        return None
    return numba


@functools.cache
def compiled(fn):
    """fn compiled by numba (nopython, no GIL, on-disk cache), or None where numba is unavailable or disabled."""
    numba = _numba()
    return numba.njit(cache=True, nogil=True)(fn) if numba is not None else None
