"""`edgeseg serve`: run the cameras of a TOML config as one long-lived service (systemd Type=notify)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click


def _logging(level: str) -> None:
    # journald stamps each line itself; on a terminal add the time
    fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
        "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=getattr(logging, level.upper()), format=fmt, stream=sys.stderr, force=True)


@click.command()
@click.option("--config", "-c", "config", type=click.Path(path_type=Path), required=True,
              help="Service config (TOML), e.g. jetson/edgeseg.toml.")
@click.option("--check", is_flag=True, help="Validate the config, print the cameras and exit.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def serve(config, check, log_level) -> None:
    """Segment several cameras with one shared model until SIGTERM; SIGHUP reloads the config.

    Example: edgeseg serve --config /etc/edgeseg/edgeseg.toml
    """
    from edgeseg.service.config import load_config
    from edgeseg.system.extras import require

    cfg = load_config(config)
    if cfg.metrics.enabled:  # --check reports it too: a config that passes must also start
        require("prometheus_client", purpose="serve's metrics ([metrics] enabled = true)")
    if cfg.mqtt is not None:
        require("paho", purpose="MQTT publishing ([mqtt])")
    if check:
        for cam in cfg.cameras.values():
            click.echo(f"{cam.name}: {cam.uri} (mode {cam.spec.mode}, K={cam.spec.keyframe_interval}) → {cam.out}")
        click.echo(f"config OK: {len(cfg.cameras)} cameras")
        return
    _logging(log_level)
    from edgeseg.service.service import Service

    sys.exit(Service(cfg).run())
