"""Named entries of one extension point (modes, fusions, keyframe policies, propagations, backends), each name
declared once: the CLI's choices, the service's TOML checks, the bench's dimensions and SegmentSpec read it.

Usage::

    FUSIONS = Registry("fusion", fast=False)         # keyword defaults: the metadata every entry carries
    FUSIONS.register("linear", dict, fast=True)
    FUSIONS.get("linear"), FUSIONS.names(), FUSIONS.names(fast=True), FUSIONS.meta("linear")["fast"]

Names keep their registration order (help texts and error messages list them so). ``get`` of an unknown name is
a one-line ConfigError naming the choices. Tests add a toy entry for their duration with ``registered``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from edgeseg.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """name → entry (a class, a function, a declaration), with metadata per entry.

    kind: the setting the names are values of ("mode", "fusion", …): it names them in errors.
    defaults: every metadata key an entry may carry and its value where the entry does not give one.
    """

    def __init__(self, kind: str, **defaults):
        self.kind, self._defaults = kind, defaults
        self._entries: dict[str, tuple[T, dict]] = {}

    def register(self, name: str, entry: T, **meta) -> T:
        """Add an entry under a new name; returns the entry (so that it can decorate a class or function)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        unknown = sorted(set(meta) - set(self._defaults))
        if unknown:
            raise TypeError(f"{self.kind} {name!r}: unknown metadata {unknown[0]!r} "
                            f"(known: {', '.join(self._defaults) or 'none'})")
        self._entries[name] = (entry, {**self._defaults, **meta})
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests: see `registered`)."""
        del self._entries[name]

    @contextlib.contextmanager
    def registered(self, name: str, entry: T, **meta) -> Iterator[T]:
        """The entry registered for the duration of a with block, removed afterwards (tests)."""
        self.register(name, entry, **meta)
        try:
            yield entry
        finally:
            self.unregister(name)

    def names(self, where: Callable[[T], bool] | None = None, **meta) -> tuple[str, ...]:
        """The names in registration order; only those whose metadata has these values and whose entry passes
        `where`, when given."""
        return tuple(name for name, (entry, m) in self._entries.items()
                     if all(m[k] == v for k, v in meta.items()) and (where is None or where(entry)))

    def get(self, name: str, **meta) -> T:
        """The entry of a name (among those with this metadata, when given); else a one-line ConfigError."""
        choices = self.names(**meta)
        if name not in choices:
            raise ConfigError(f"{self.kind} {name!r}: unknown; choose from {', '.join(choices)}")
        return self._entries[name][0]

    def meta(self, name: str) -> dict:
        """The metadata of a name (a copy), the registry's defaults filled in."""
        self.get(name)
        return dict(self._entries[name][1])

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
