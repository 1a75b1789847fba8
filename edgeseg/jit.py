"""Optional compiled kernels: numba when it is installed, else the callers' NumPy code.

Usage: ``kernel = compiled(_python_kernel)``; ``kernel(...) if kernel else numpy_path(...)``

Per-frame label upsampling and warping do little arithmetic on small maps; in NumPy their cost is mostly
per-call overhead and temporaries. numba compiles the plain loops once (cached on disk next to the module) and
releases the GIL while they run. ``EDGESEG_NO_JIT=1`` forces the NumPy paths (tests compare the two).
"""

from __future__ import annotations

import functools
import os
import types


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
def compiled(fn, *helpers):
    """fn compiled by numba (nopython, no GIL, on-disk cache), or None where numba is unavailable or disabled.

    helpers: plain functions that fn calls by name; fn then calls their compiled versions (the module keeps
    the plain ones, so the NumPy paths and tests can call them too).
    """
    numba = _numba()
    if numba is None:
        return None
    if helpers:
        names = {**fn.__globals__, **{h.__name__: compiled(h) for h in helpers}}
        fn = functools.update_wrapper(types.FunctionType(fn.__code__, names, fn.__name__, fn.__defaults__,
                                                         fn.__closure__), fn)
    return numba.njit(cache=True, nogil=True)(fn)
