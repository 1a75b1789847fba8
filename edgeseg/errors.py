"""User-facing errors: one line that names the input and the cause.

Usage: ``raise SourceError(f"{path}: no such file")``; the CLI prints it as ``Error: ...`` and exits 1.
"""


class EdgesegError(Exception):
    """Base class for errors caused by the user's input (never by a bug)."""

    def __str__(self) -> str:  # contract: always one line
        return " ".join(super().__str__().split())


class SourceError(EdgesegError):
    """A video source cannot be opened or read."""


class BundleError(EdgesegError):
    """A model bundle is missing, corrupt or unsupported."""


class ExportError(EdgesegError):
    """A model cannot be exported as asked."""


class ConfigError(EdgesegError):
    """A configuration value is invalid."""
