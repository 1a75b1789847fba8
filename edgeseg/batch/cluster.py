"""Starting or joining Ray for `edgeseg batch --ray`, with one-line errors that give up within seconds.

Usage: ``start_ray(ray, address=None, num_cpus=2)`` (a new Ray on this machine) or
``start_ray(ray, address="10.0.0.5:6379")`` (join that cluster); ConfigError (one line) where it cannot.

- No address: always a new Ray here (``ray.init(address="local")``), never the cluster named by RAY_ADDRESS or
  by the last `ray start` (its ``ray_current_cluster`` file outlives a head killed without `ray stop`).
- An address: its port is tried first (a plain TCP connection, RAY_CONNECT_S at most), so a dead or wrong
  address fails at once; Ray itself would retry for minutes. Then Ray joins with a few seconds of retries, its
  own messages held back and shown only if it joined; a refusal names the likely cause: token
  authentication (Ray ≥ 2.59 turns it on for `ray start --head` where a token exists, and a client that
  names an address must set RAY_AUTH_MODE=token itself), or the address.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from contextlib import contextmanager

from edgeseg.errors import ConfigError

RAY_CONNECT_S = 5.0  # the TCP check of a cluster's address
RAY_RETRIES = 5  # Ray's own connection tries, about a second apart (its default: 20)
AUTH_HINT = ("set RAY_AUTH_MODE=token here and give this machine the head node's token (its ~/.ray/auth_token, "
             "or RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH); see docs/BATCH.md")


def start_ray(ray, *, address: str | None, num_cpus: int | None = None) -> None:
    """Start Ray on this machine (address None) or join the cluster at `address`; ConfigError where it cannot."""
    if not address:
        try:
            ray.init(address="local", num_cpus=num_cpus, log_to_driver=False, include_dashboard=False)
        except Exception as exc:
            raise ConfigError(f"--ray: cannot start Ray on this machine ({_first_line(exc)})") from None
        return
    if os.path.exists(address):
        raise ConfigError(f"--ray {address}: that is a path here, not a cluster address (a bare --ray before an input "
                          f"takes the input as its address: write --ray=ADDRESS, or --ray after the inputs)")
    target = _resolve(address)
    _reach(address, target)
    with _ray_retries(), _held_stderr() as held:
        try:
            ray.init(address=address, log_to_driver=False)
        except Exception as exc:
            raise ConfigError(_refusal(address, exc, held.read())) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _resolve(address: str) -> str:
    """host:port that `address` stands for ('auto': the last `ray start`'s cluster, or RAY_ADDRESS)."""
    if address != "auto":
        return address
    try:
        from ray._private.services import get_ray_address_from_environment

        found = get_ray_address_from_environment("auto", None)
    except Exception as exc:  # none found
        raise ConfigError(f"--ray auto: no Ray cluster found on this machine ({_first_line(exc)})") from None
    return found or address


def _reach(address: str, target: str) -> None:
    """The cluster's GCS port accepts a TCP connection within RAY_CONNECT_S (ray:// and other forms: Ray's
    own checks)."""
    host, sep, port = target.rpartition(":")
    if "://" in target or not sep or not port.isdigit():
        return
    named = address if address == target else f"{address} ({target})"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_S):
            pass
    except ConnectionRefusedError:
        cause = "connection refused: no Ray head listens there"
    except TimeoutError:
        cause = f"no answer in {RAY_CONNECT_S:g} s"
    except socket.gaierror:
        cause = f"unknown host {host}"
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
    else:
        return
    raise ConfigError(f"--ray {named}: cannot reach a Ray cluster there ({cause}); check the address (the head's "
                      f"IP and `ray start --head --port`) and that the cluster is up (`ray status`)")


@contextmanager
def _ray_retries():
    """Ray's connection retries cut to RAY_RETRIES (unless the user set them) while joining."""
    key = "RAY_gcs_server_port_wait_time_s"
    mine = key not in os.environ
    if mine:
        os.environ[key] = str(RAY_RETRIES)
    try:
        yield
    finally:
        if mine:
            os.environ.pop(key, None)


@contextmanager
def _held_stderr():
    """Hold back what is written to stderr (file descriptor 2: Ray's C++ retries log there too); replayed
    when the block succeeds, dropped when it raises (its one-line error says it all)."""
    held = tempfile.TemporaryFile(mode="w+b")
    saved = os.dup(2)
    ok = False
    try:
        sys.stderr.flush()
        os.dup2(held.fileno(), 2)
        try:
            yield _Held(held)
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
        if ok:
            held.seek(0)
            os.write(2, held.read())
    finally:
        os.close(saved)
        held.close()


class _Held:
    def __init__(self, fh):
        self.fh = fh

    def read(self) -> str:
        self.fh.flush()
        self.fh.seek(0)
        return self.fh.read().decode(errors="replace")


def _refusal(address: str, exc: BaseException, logged: str) -> str:
    """Why joining failed, in one line, with its likely cause."""
    chain, cause = [], exc
    while cause is not None and len(chain) < 5:
        chain.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    text = " ".join(chain) + " " + logged
    token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    if "no authentication token was found" in text:
        return f"--ray {address}: RAY_AUTH_MODE=token but this machine has no Ray token; {AUTH_HINT}"
    if any(k in text for k in ("InvalidAuthToken", "Unauthenticated", "AuthenticationError", "authentication token")):
        if token_mode:
            return (f"--ray {address}: the Ray cluster there rejected this machine's token (token authentication); "
                    f"use the head node's token (its ~/.ray/auth_token) here")
        return f"--ray {address}: the Ray cluster there requires token authentication; {AUTH_HINT}"
    return (f"--ray {address}: cannot join the Ray cluster there ({_first_line(exc)}); check the address (the "
            f"head's `ray start --head --port`), that the cluster is up (`ray status`) and, if it uses token "
            f"authentication, RAY_AUTH_MODE=token and its token here")
