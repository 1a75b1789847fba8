"""Reading a TOML file as one-line errors: the service's config and zones files.

Usage: ``data = read_toml(path, what="config")`` → dict; ConfigError "PATH: no such config file" etc.
"""

from __future__ import annotations

from pathlib import Path

from edgeseg.errors import ConfigError


def read_toml(path: str | Path, *, what: str) -> dict:
    """The parsed document; ConfigError naming the file for a missing, unreadable or invalid one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10 (JetPack 6): the same parser from PyPI
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
