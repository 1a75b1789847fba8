"""First run with an empty kernel cache: no compile inside the run (NumPy paths, the same labels; labels
upsampled plainly until the guided kernel is compiled), a background compile that fills the cache for the next
run; `edgeseg warmup`; cache locations for services."""

import json
import os
import re
import subprocess
import sys
import time

import clips
import pytest

from edgeseg.system.cache import cache_dir, writable_cache


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return clips.object_clip(tmp_path_factory.mktemp("jit") / "c.mp4", size=(320, 192), frames=24, bframes=2)


def _env(cache):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "EDGESEG_NO_JIT")}
    return env | {"EDGESEG_CACHE": str(cache), "EDGESEG_JIT": "background"}


def _run(clip, cache, stats, *flags):
    res = subprocess.run([sys.executable, "-m", "edgeseg", "run", str(clip.path), "-k", "5", "--stats", str(stats),
                          *flags], env=_env(cache), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in stats.read_text().splitlines()]
    return res.stderr, [(x["frame"], x["keyframe"], x["class_fraction"]) for x in lines]


def test_first_run_uses_numpy_paths_and_fills_the_cache_in_the_background(tmp_path, clip):
    cache = tmp_path / "cache"
    err, first = _run(clip, cache, tmp_path / "s1.jsonl", "--no-guide")
    assert "compiles them in the background" in err
    assert len(first) == 24
    _, first_default = _run(clip, cache, tmp_path / "s1g.jsonl")  # guided labels wait for the compiled kernel
    if not list((cache / "numba").glob("ready-*")):  # the compile was still running when this run ended
        assert first_default == first
    deadline = time.monotonic() + 600  # the compile runs on idle CPU time only: wait for it, not a speed check
    while not list((cache / "numba").glob("ready-*")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert list((cache / "numba").glob("ready-*")), (cache / "numba" / "warm-up.log").read_text()
    assert "compiled kernels in" in (cache / "numba" / "warm-up.log").read_text()
    err, second = _run(clip, cache, tmp_path / "s2.jsonl", "--no-guide")
    assert "background" not in err
    assert second == first  # compiled kernels and NumPy paths give the same labels
    _, guided = _run(clip, cache, tmp_path / "s2g.jsonl")
    assert guided != first and [g[:2] for g in guided] == [f[:2] for f in first]  # now guided, same keyframes


def test_warmup_command_compiles_once(tmp_path):
    cache = tmp_path / "cache"
    cmd = [sys.executable, "-m", "edgeseg", "warmup"]
    res = subprocess.run(cmd, env=_env(cache), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "compiled kernels in" in res.stdout, res.stderr
    assert list((cache / "numba").glob("ready-*"))
    assert json.loads((cache / "numba" / "compile.json").read_text())["seconds"] > 0  # the estimate runs give
    res = subprocess.run(cmd, env=_env(cache), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "already" in res.stdout


def test_cache_location_follows_systemd_and_falls_back_when_unwritable(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGESEG_CACHE", raising=False)
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "var-cache"))
    assert cache_dir() == tmp_path / "var-cache"
    assert writable_cache("numba") == tmp_path / "var-cache" / "numba"
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("EDGESEG_CACHE", str(blocker / "cache"))  # under a file: cannot be created
    fallback = writable_cache("numba")
    assert fallback is not None and fallback.is_dir() and not str(fallback).startswith(str(blocker))


HOLDER = """
import time
from edgeseg.system import jit
with jit.compile_lock() as held:  # what the background compile (edgeseg.cli.warmup.background) holds
    print("held" if held else "busy", flush=True)
    time.sleep(120 if held else 0)
"""
NOTICE = "from edgeseg.system import jit; print(jit.notice())"
FIRST = ("kernels: NumPy paths this run; numba compiles them in the background for later runs "
         "(`edgeseg warmup` does it now)")


def _py(code, cache) -> str:
    res = subprocess.run([sys.executable, "-c", code], env=_env(cache), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_a_run_while_another_process_compiles_says_it_is_still_compiling(tmp_path):
    cache = tmp_path / "cache"
    assert _py(NOTICE, cache) == FIRST  # no compile running: this run's exit starts one
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=_env(cache), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        time.sleep(1.2)
        line = _py(NOTICE, cache)
        assert re.fullmatch(r"kernels: NumPy paths this run; numba is still compiling them in the background "
                            r"\(started [1-9]\d* s ago; it takes about 16 s of otherwise idle CPU time on a 2-core "
                            r"x86-64 CPU\)", line), line
        assert _py(HOLDER, cache) == "busy"  # one compile at a time; the holder's start time is not erased
        assert "(started " in _py(NOTICE, cache)
        _py("from edgeseg.system import jit; jit.record_compile(42.4)", cache)  # what a finished compile records
        assert _py(NOTICE, cache).endswith("s ago; the last compile here took 42 s)")
    finally:
        holder.kill()
        holder.wait()
    assert _py(NOTICE, cache) == FIRST  # the lock died with its process: no compile is reported as running
    assert _py("from edgeseg.system import jit; print(jit.compile_started())", cache) == "None"
