"""`edgeseg serve`: several cameras, one shared model, rolling outputs, metrics, systemd integration.

Usage: ``Service(load_config("edgeseg.toml")).run()`` (what ``edgeseg serve --config FILE`` does).
"""

from edgeseg.service.config import CameraConfig, ServiceConfig, load_config, parse_config
from edgeseg.service.notify import Notifier

__all__ = ["CameraConfig", "Notifier", "ServiceConfig", "load_config", "parse_config"]
