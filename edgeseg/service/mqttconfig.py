"""The [mqtt] table of `edgeseg serve`'s config: broker URL, topics, rate, outbox and rules, validated.

Usage: ``cfg = parse_mqtt({"url": "mqtt://127.0.0.1:1883", "rate_hz": 2}, where="edgeseg.toml: "); cfg.host``

Every error is one line naming the key: ``edgeseg.toml: mqtt.url: must be mqtt://HOST[:PORT] (got 'tcp://x')``.
Rules: edgeseg.service.rules (their classes and zones are checked against the model and the cameras with
check_rules once those are known).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from edgeseg.errors import ConfigError
from edgeseg.service.rules import Rule, parse_rules

_KEYS = ("url", "topic_prefix", "rate_hz", "queue_size", "reconnect_min_s", "reconnect_max_s", "rules")


@dataclass(frozen=True, kw_only=True)
class MqttConfig:
    """The [mqtt] table. host and port come from url ("mqtt://HOST[:PORT]", port 1883 by default)."""

    url: str
    topic_prefix: str = "edgeseg"
    rate_hz: float = 1.0  # fractions messages per camera per second
    queue_size: int = 1000  # messages held while the broker is away
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    rules: tuple[Rule, ...] = ()

    @property
    def host(self) -> str:
        return parse_url(self.url)[0]

    @property
    def port(self) -> int:
        return parse_url(self.url)[1]


def parse_url(url, *, key: str = "mqtt.url") -> tuple[str, int]:
    """(host, port) of "mqtt://HOST[:PORT]" (port 1883 by default); ConfigError naming `key` otherwise."""
    bad = f"{key}: must be mqtt://HOST[:PORT] (got {url!r})"
    if not isinstance(url, str):
        raise ConfigError(bad)
    try:
        parts = urlsplit(url)
        port = parts.port or 1883
    except ValueError:
        raise ConfigError(bad) from None
    if parts.scheme != "mqtt" or not parts.hostname or parts.path not in ("", "/") or parts.query or \
            parts.username or parts.fragment:
        raise ConfigError(bad)
    return parts.hostname, port


def _num(lo, hi, *, integer=False):
    return lambda v: not isinstance(v, bool) and isinstance(v, int if integer else int | float) and lo < v <= hi


_CHECKS = {  # key → (check, what it must be)
    "topic_prefix": (lambda v: isinstance(v, str) and v != "" and v.strip("/") == v and not set(v) & set("+#\0"),
                     "a topic without +, # or a leading/trailing /"),
    "rate_hz": (_num(0, 100), "a number in (0, 100]"),
    "queue_size": (_num(0, 10**6, integer=True), "an integer from 1 to 1000000"),
    "reconnect_min_s": (_num(0, 3600), "a number in (0, 3600]"),
    "reconnect_max_s": (_num(0, 3600), "a number in (0, 3600]"),
}


def parse_mqtt(table, *, where: str = "") -> MqttConfig:
    """Validate the [mqtt] table (url required); where: "FILE: " for the messages."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}mqtt: must be a table")
    for k, v in table.items():
        if k not in _KEYS:
            raise ConfigError(f"{where}mqtt.{k}: unknown key (known: {', '.join(_KEYS)})")
        if k in _CHECKS and not _CHECKS[k][0](v):
            raise ConfigError(f"{where}mqtt.{k}: must be {_CHECKS[k][1]} (got {v!r})")
    if "url" not in table:
        raise ConfigError(f"{where}mqtt.url: missing (mqtt://HOST:PORT)")
    parse_url(table["url"], key=f"{where}mqtt.url")
    rest = {k: v for k, v in table.items() if k != "rules"}
    cfg = MqttConfig(**rest, rules=parse_rules(table.get("rules", []), where=where))
    if cfg.reconnect_min_s > cfg.reconnect_max_s:
        raise ConfigError(f"{where}mqtt.reconnect_min_s: exceeds reconnect_max_s ({cfg.reconnect_max_s:g})")
    return cfg
