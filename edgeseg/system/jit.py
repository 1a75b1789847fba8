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
run too. `edgeseg warmup` does the same in the foreground (install scripts, ExecStartPre). The compiling process
holds the cache's lock (LOCK, with its start time) and records how long it took (RECORD): `notice()` is the line a
run on the NumPy paths prints, and it says when another process's compile is still running.

Cache: ``$NUMBA_CACHE_DIR`` if set, else edgeseg.system.cache.writable_cache("numba") (~/.cache/edgeseg/numba, or
systemd's CacheDirectory, or a temp dir). ``EDGESEG_JIT``: ``background`` (default), ``inline`` (compile on
first call, in this process: the tests), ``off`` (NumPy only; ``EDGESEG_NO_JIT=1`` means the same).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

_POLL_S = 0.25
START_AFTER_S = 30.0  # a run this long starts the background compile; shorter ones start it as they exit
COMPILE_S = 16.0  # compiling every kernel: `edgeseg warmup` took 15.5 s on the 2-core x86-64 CPU (no record yet)
LOCK = "warm-up.lock"  # held (flock) by the process compiling; holds {"pid", "started"}
RECORD = "compile.json"  # {"seconds": the last compile's duration on this machine, "at": when it ended}


class _Warmth:
    """This process's view of the kernel cache, its one piece of mutable state: whether the kernels are warm,
    when it first needed them, when it last looked, and the background compile it started (if any). One
    instance (_WARMTH) owns it; reset() starts it over (tests that switch EDGESEG_JIT)."""

    def __init__(self):
        self.warm, self.proc, self.polled, self.since = False, None, 0.0, None
        self._exit_hook = False

    def start_background_later(self, now: float) -> None:
        """First need of the kernels: the compile starts after START_AFTER_S of running, or at exit."""
        self.since = now
        if not self._exit_hook:  # registered once per process, whatever reset() does
            atexit.register(_start_at_exit)
            self._exit_hook = True


_WARMTH = _Warmth()


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
def numba_module():
    """The numba module, set up to cache in kernel_cache_dir(); None when numba is off or not installed."""
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
def ready_marker() -> Path | None:
    """The file that says this installation's kernels are in the cache: one per edgeseg/numba/Python/CPU and
    source state (any edited module makes a new one)."""
    numba, path = numba_module(), kernel_cache_dir()
    if numba is None or path is None:
        return None
    import platform

    from edgeseg import __version__

    h = hashlib.sha256(f"{__version__} {numba.__version__} {sys.version} {platform.machine()}".encode())
    root = Path(__file__).parents[1]  # the whole package: kernels live in pipeline/, warp/, motion/, source/ …
    for src in sorted(root.rglob("*.py")):
        st = src.stat()
        h.update(f"{src.relative_to(root)} {st.st_mtime_ns} {st.st_size}".encode())
    return path / f"ready-{h.hexdigest()[:16]}"


def warm() -> bool:
    """Whether the compiled kernels are ready to use (starting their background compile if needed)."""
    w = _WARMTH
    if w.warm:
        return True
    m = mode()
    if m == "inline":
        w.warm = True
        return True
    marker = ready_marker() if m == "background" else None
    if marker is None:
        return False
    now = time.monotonic()
    if now - w.polled < _POLL_S:
        return False
    w.polled = now
    if marker.exists():
        w.warm = True
        return True
    if w.since is None:
        w.start_background_later(now)
    if w.proc is None and now - w.since >= START_AFTER_S:
        w.proc = _start_background()
    return False


def _start_at_exit() -> None:
    w, marker = _WARMTH, ready_marker()
    if w.proc is None and not w.warm and marker is not None and not marker.exists():
        w.proc = _start_background()


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
    marker = ready_marker() if mode() == "background" and numba_module() is not None else None
    return marker is not None and not marker.exists()


def notice() -> str | None:
    """The line a run prints when it ran the NumPy paths because the kernels were not compiled (None when they
    were): a background compile is on its way, or another process's is still running (how long since it started,
    how long one takes)."""
    if not compiling():
        return None
    started = compile_started()
    if started is None:
        return ("kernels: NumPy paths this run; numba compiles them in the background for later runs "
                "(`edgeseg warmup` does it now)")
    took = last_compile_s()
    how_long = (f"the last compile here took {took:.0f} s" if took is not None else
                f"it takes about {COMPILE_S:.0f} s of otherwise idle CPU time on a 2-core x86-64 CPU")
    return (f"kernels: NumPy paths this run; numba is still compiling them in the background (started "
            f"{max(0.0, time.time() - started):.0f} s ago; {how_long})")


@contextlib.contextmanager
def compile_lock():
    """Hold the cache's compile lock (one compiling process at a time) and record when the compile started;
    yields True, or False, holding nothing, when another process holds it."""
    cache = kernel_cache_dir()
    if cache is None:
        yield False
        return
    with open(cache / LOCK, "a+") as fh:  # "a+", not "w": a process that does not get the lock erases nothing
        held = _flock(fh, exclusive=True)
        if held:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "started": time.time()}) + "\n")
            fh.flush()
        yield held


def compile_started() -> float | None:
    """When (time.time()) the compile another live process is running started, or None when none is running.
    The lock is an flock: it dies with its process, so a crashed compile is not reported as running."""
    cache = kernel_cache_dir()
    try:
        fh = open(cache / LOCK)  # noqa: SIM115 (closed below)
    except (OSError, TypeError):  # no lock file (no compile ever started here) or no cache
        return None
    with fh:
        if _flock(fh, exclusive=False):
            return None  # nobody holds it: no compile is running
        try:
            return float(json.loads(fh.read())["started"])
        except (ValueError, KeyError, TypeError):
            return os.fstat(fh.fileno()).st_mtime


def _flock(fh, *, exclusive: bool) -> bool:
    """Take the lock without waiting on a holder (exclusive: kept until fh closes; shared: released at once, a
    probe). A probe holds it for microseconds: an exclusive try retries briefly before it gives up."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (every compile goes ahead), none reported as running
        return True
    for attempt in range(5 if exclusive else 1):
        try:
            fcntl.flock(fh, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError:
            time.sleep(0.05 * (attempt + 1) if exclusive else 0)
            continue
        if not exclusive:
            fcntl.flock(fh, fcntl.LOCK_UN)
        return True
    return False


def record_compile(seconds: float) -> None:
    """Keep how long a compile of every kernel took on this machine (the estimate `notice` gives)."""
    try:
        (kernel_cache_dir() / RECORD).write_text(json.dumps({"seconds": round(seconds, 1), "at": time.time()}) + "\n")
    except (OSError, TypeError):
        pass


def last_compile_s() -> float | None:
    """Seconds the last compile of every kernel took on this machine (any edgeseg version), None if none is known."""
    try:
        return float(json.loads((kernel_cache_dir() / RECORD).read_text())["seconds"])
    except (OSError, TypeError, ValueError, KeyError):
        return None


def status() -> str:
    """One line for `edgeseg info` and run summaries."""
    numba = numba_module()
    if numba is None:
        return "off (EDGESEG_JIT=off)" if mode() == "off" else "not installed: NumPy paths"
    where = kernel_cache_dir()
    if mode() == "inline":
        return f"numba {numba.__version__}, compiled on first use, cache {where}"
    ready = ready_marker() is not None and ready_marker().exists()
    state = "ready" if ready else "not compiled yet: NumPy paths until a background compile finishes"
    return f"numba {numba.__version__}, {state}, cache {where}"


@functools.cache
def _dispatcher(fn):
    return numba_module().njit(cache=True, nogil=True)(fn)


def compiled(fn):
    """fn compiled by numba (nopython, no GIL, on-disk cache) once the kernels are warm, else None."""
    if numba_module() is None or not warm():
        return None
    return _dispatcher(fn)


def reset() -> None:
    """Forget what this process decided (tests that switch EDGESEG_JIT)."""
    for cached in (numba_module, ready_marker, _dispatcher, kernel_cache_dir):
        cached.cache_clear()
    _WARMTH.warm, _WARMTH.proc, _WARMTH.polled, _WARMTH.since = False, None, 0.0, None
