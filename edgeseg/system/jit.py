"""Optional compiled kernels: numba once they are compiled and cached, the callers' NumPy code until then.

Usage: ``kernel = compiled(_python_kernel)``; ``kernel(...) if kernel else numpy_path(...)``

Per-frame label upsampling, warping and motion-field building do little arithmetic on small maps; in NumPy
their cost is mostly per-call overhead and temporaries. numba compiles the plain loops (no GIL while they
run), but compiling them all takes seconds, which a first run used to spend inside its frames. Now a
process whose kernel cache is not warm runs the NumPy paths (nearly as fast on a 960×540 clip, see
docs/RUNTIME.md) and starts one background process that compiles every kernel into the cache (`edgeseg.cli.warmup`: a
tiny clip through every mode and output) on idle CPU time only: as it exits, or after START_AFTER_S of
running, so that a short first run is not disturbed at all (even at idle priority the compile slowed one on a
loaded 2-core machine). Once that process has finished, `compiled` hands out the cached kernels, in a long
run too. `edgeseg warmup` does the same in the foreground (install scripts, ExecStartPre).

Cache: ``$NUMBA_CACHE_DIR`` if set, else edgeseg.system.cache.writable_cache("numba") (~/.cache/edgeseg/numba, or
systemd's CacheDirectory, or a temp dir). ``EDGESEG_JIT``: ``background`` (default), ``inline`` (compile on
first call, in this process: the tests), ``off`` (NumPy only; ``EDGESEG_NO_JIT=1`` means the same).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

_POLL_S = 0.25
START_AFTER_S = 30.0  # a run this long starts the background compile; shorter ones start it as they exit
_state: dict = {"warm": False, "proc": None, "polled": 0.0, "since": None}


def mode() -> str:
    """off, inline or background (EDGESEG_JIT; EDGESEG_NO_JIT=1 forces off)."""
    if os.environ.get("EDGESEG_NO_JIT", "") not in ("", "0"):
        return "off"
    value = os.environ.get("EDGESEG_JIT", "background").strip().lower()
    return value if value in ("off", "inline") else "background"


@functools.cache
def kernel_cache_dir() -> Path | None:
    """Where numba keeps compiled kernels (NUMBA_CACHE_DIR is set to it before numba is imported)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    from edgeseg.system.cache import writable_cache

    return writable_cache("numba")


@functools.cache
def _numba():
    if mode() == "off":
        return None
    path = kernel_cache_dir()
    if path is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(path))
    try:
        import numba
    except ImportError:
        return None
    if path is not None:
        numba.config.CACHE_DIR = str(path)  # in case numba was imported before the variable was set
    return numba


@functools.cache
def _marker() -> Path | None:
    """The file that says this installation's kernels are in the cache: one per edgeseg/numba/Python/CPU and
    source state (any edited module makes a new one)."""
    numba, path = _numba(), kernel_cache_dir()
    if numba is None or path is None:
        return None
    import platform

    from edgeseg import __version__

    h = hashlib.sha256(f"{__version__} {numba.__version__} {sys.version} {platform.machine()}".encode())
    root = Path(__file__).parent
    for src in sorted(root.rglob("*.py")):
        st = src.stat()
        h.update(f"{src.relative_to(root)} {st.st_mtime_ns} {st.st_size}".encode())
    return path / f"ready-{h.hexdigest()[:16]}"


def warm() -> bool:
    """Whether the compiled kernels are ready to use (starting their background compile if needed)."""
    if _state["warm"]:
        return True
    m = mode()
    if m == "inline":
        _state["warm"] = True
        return True
    marker = _marker() if m == "background" else None
    if marker is None:
        return False
    now = time.monotonic()
    if now - _state["polled"] < _POLL_S:
        return False
    _state["polled"] = now
    if marker.exists():
        _state["warm"] = True
        return True
    if _state["since"] is None:
        _state["since"] = now
        atexit.register(_start_at_exit)
    if _state["proc"] is None and now - _state["since"] >= START_AFTER_S:
        _state["proc"] = _start_background()
    return False


def _start_at_exit() -> None:
    marker = _marker()
    if _state["proc"] is None and not _state["warm"] and marker is not None and not marker.exists():
        _state["proc"] = _start_background()


def _idle_priority() -> None:
    """In the child: run only on otherwise idle CPU time (SCHED_IDLE), else at nice 19."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


def _start_background():
    """`python -m edgeseg.cli.warmup`, detached, on idle CPU time only: it outlives a short run, so the next one
    starts warm, and it leaves the run's own cores alone."""
    env = dict(os.environ, EDGESEG_JIT="inline", NUMBA_CACHE_DIR=str(kernel_cache_dir()))
    log = kernel_cache_dir() / "warm-up.log"
    try:
        with open(log, "ab") as out:
            return subprocess.Popen([sys.executable, "-m", "edgeseg.cli.warmup"], env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, start_new_session=True,
                                    preexec_fn=_idle_priority)
    except OSError:
        return False  # cannot start one: stay on the NumPy paths


def compiling() -> bool:
    """Whether this process runs the NumPy paths because the kernels are not in the cache yet."""
    marker = _marker() if mode() == "background" and _numba() is not None else None
    return marker is not None and not marker.exists()


def status() -> str:
    """One line for `edgeseg info` and run summaries."""
    numba = _numba()
    if numba is None:
        return "off (EDGESEG_JIT=off)" if mode() == "off" else "not installed: NumPy paths"
    where = kernel_cache_dir()
    if mode() == "inline":
        return f"numba {numba.__version__}, compiled on first use, cache {where}"
    ready = _marker() is not None and _marker().exists()
    state = "ready" if ready else "not compiled yet: NumPy paths until a background compile finishes"
    return f"numba {numba.__version__}, {state}, cache {where}"


@functools.cache
def _dispatcher(fn):
    return _numba().njit(cache=True, nogil=True)(fn)


def compiled(fn):
    """fn compiled by numba (nopython, no GIL, on-disk cache) once the kernels are warm, else None."""
    if _numba() is None or not warm():
        return None
    return _dispatcher(fn)


def reset() -> None:
    """Forget what this process decided (tests that switch EDGESEG_JIT)."""
    for cached in (_numba, _marker, _dispatcher, kernel_cache_dir):
        cached.cache_clear()
    _state.update(warm=False, proc=None, polled=0.0, since=None)
