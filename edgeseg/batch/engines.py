"""Where shards run: a local process pool (the default) or Ray tasks on a cluster; both retry lost workers.

Usage::

    engine = LocalEngine(workers=2, retries=2)        # or RayEngine(address=None, retries=2)
    engine.run(tasks, on_done)                        # on_done(task, record, error) as each shard ends
                                                      # (tasks: any iterable, taken from as workers free up)

A shard whose worker dies (killed process, lost node) runs again, up to `retries` more times; a shard that
raises (a damaged input) is not retried: on_done gets its one-line error. Shards start in the order given, one
queued per worker beyond those running (a worker that finishes a shard starts the next at once), so the
inputs finish one after another.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable

from edgeseg.batch.worker import ShardTask, networks, run_shard
from edgeseg.errors import ConfigError, EdgesegError

OnDone = Callable[[ShardTask, dict | None, str | None], None]
RAY_HINT = '--ray needs the ray extra: pip install "edgeseg[ray]"'


def _message(exc: BaseException) -> str:
    """A shard's failure as one line (EdgesegError's own text; otherwise the exception's type and text)."""
    if isinstance(exc, EdgesegError):
        return str(exc)
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _worker_init(parent: int, gpus: tuple[str, ...], counter, model, backend: str, threads) -> None:
    """A pool process: dies with the batch process (Linux), takes its GPU (the n-th worker started gets
    gpus[n % len(gpus)] as its only visible device), then opens the model."""
    if sys.platform.startswith("linux"):  # a batch stopped by SIGTERM or SIGKILL leaves no worker writing parts
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the batch died before prctl
            os._exit(1)
    if gpus:  # before any CUDA library loads in this process
        with counter.get_lock():
            n, counter.value = counter.value, counter.value + 1
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[n % len(gpus)]
    networks(model, backend, threads)


def visible_gpus() -> tuple[str, ...]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES's entries where it is set, else nvidia-smi's."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return tuple(g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1")
    from edgeseg.system.info import gpu_info

    return tuple(str(i) for i in range(len(gpu_info()["devices"])))


class LocalEngine:
    """Shards on `workers` local processes (spawned, so no state is shared with the parent). gpus: device ids
    dealt out to the workers in turn (each sees one GPU; e.g. visible_gpus()); empty: the workers inherit
    this process's devices."""

    def __init__(self, *, workers: int, retries: int = 2, gpus=()):
        self.workers, self.retries, self.gpus = max(1, int(workers)), int(retries), tuple(str(g) for g in gpus)
        self.restarts = 0  # pools rebuilt after a worker died
        self._pool, self._warm = None, (None, "auto", 1)

    def _new_pool(self):
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(), self.gpus, ctx.Value("i", 0), *self._warm))

    def start(self, *, model=None, backend: str = "auto", threads: int | None = 1, wait: bool = False) -> None:
        """Start the worker processes, each opening the model (while the caller scans its inputs; wait: until
        they have)."""
        if self._pool is None:
            self._warm = (str(model) if model is not None else None, backend, threads)
            self._pool = self._new_pool()
            started = [self._pool.submit(os.getpid) for _ in range(self.workers)]
            if wait:
                for future in started:
                    future.result()

    def close(self) -> None:
        """Stop worker processes started but not used (run() stops its own)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self, tasks: Iterable[ShardTask], on_done: OnDone) -> None:
        """Run every task (taken from `tasks` only as workers free up, so a generator may still be scanning
        inputs while the first shards run); on_done(task, record, error) for each."""
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending, again, attempts = iter(tasks), [], {}
        self.start()
        pool, self._pool = self._pool, None
        running: dict = {}

        def lost(task: ShardTask) -> None:
            key = (task.path, task.shard.number)
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] > self.retries:
                on_done(task, None, f"{task.path}: worker died {attempts[key]} times "
                                    f"on frames {task.shard.start}–{task.shard.end}")
            else:
                again.append(task)

        try:
            while True:
                while len(running) < 2 * self.workers:  # one queued per worker: no idle gap
                    task = again.pop(0) if again else next(pending, None)
                    if task is None:
                        break
                    running[pool.submit(run_shard, task)] = task
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = running.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool:
                        broken = True
                        lost(task)
                        continue
                    except Exception as exc:  # the shard itself failed: its input is bad
                        on_done(task, None, _message(exc))
                        continue
                    on_done(task, record, None)
                if broken:  # every shard still in the dead pool goes again
                    for future, task in running.items():
                        future.cancel()
                        lost(task)
                    running.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = self._new_pool()
                    self.restarts += 1
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class RayEngine:
    """Shards as Ray tasks: `address` None starts a new Ray on this machine (ray.init(address="local")), else
    joins that cluster.
    Ray itself reruns a task whose worker process or node died (max_retries). num_gpus: each shard's share of
    a GPU (e.g. 0.125: eight shards share one); Ray hides the GPUs from tasks that ask for none, so GPU nodes
    need it."""

    def __init__(self, *, address: str | None = None, retries: int = 2, num_cpus: int | None = None,
                 num_gpus: float = 0.0):
        try:
            import ray
        except ImportError:
            raise ConfigError(RAY_HINT) from None
        if not 0.0 <= num_gpus <= 1.0:
            raise ConfigError(f"--gpus-per-shard {num_gpus:g}: must be in (0, 1] (a shard uses at most one GPU)")
        self.ray, self.address, self.retries, self.num_cpus = ray, address, int(retries), num_cpus
        self.num_gpus = float(num_gpus)  # per shard; Ray gives each task its GPU (CUDA_VISIBLE_DEVICES)

    def start(self, **_warm) -> None:
        """Start Ray here or join the cluster (the model opens in each Ray worker at its first shard); a cluster
        that cannot be reached or refuses this machine is a one-line ConfigError within seconds
        (edgeseg.batch.cluster)."""
        from edgeseg.batch.cluster import start_ray

        ray = self.ray
        if not ray.is_initialized():
            start_ray(ray, address=self.address, num_cpus=self.num_cpus)
        if self.num_gpus and not ray.cluster_resources().get("GPU"):  # tasks asking for one would never start
            where = self.address or "started here"
            raise ConfigError(f"--gpus-per-shard {self.num_gpus:g}: the Ray cluster ({where}) has no GPUs")

    def close(self) -> None:
        """Nothing to stop: a cluster outlives the batch, and a Ray started here stops when the process ends."""

    def run(self, tasks: Iterable[ShardTask], on_done: OnDone) -> None:
        ray = self.ray
        self.start()
        resources = ray.cluster_resources()
        slots = max(1, int(resources.get("CPU", 1)))
        if self.num_gpus:
            slots = max(1, min(slots, int(resources.get("GPU", 0) / self.num_gpus + 1e-9)))
        remote = ray.remote(num_cpus=1, num_gpus=self.num_gpus, max_retries=self.retries)(run_shard)
        pending, running = iter(tasks), {}
        while True:
            while len(running) < 2 * slots:  # a few queued per CPU: no idle gap between shards
                task = next(pending, None)
                if task is None:
                    break
                running[remote.remote(task)] = task
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            task = running.pop(ready[0])
            try:
                record = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the shard raised: its input is bad
                on_done(task, None, _message(exc.cause if exc.cause is not None else exc))
                continue
            except ray.exceptions.RayError as exc:  # retries used up: workers or nodes kept dying
                on_done(task, None, f"{task.path}: frames {task.shard.start}–{task.shard.end} failed "
                                    f"after {self.retries} retries ({type(exc).__name__})")
                continue
            on_done(task, record, None)
