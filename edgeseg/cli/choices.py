"""click choices read from a registry when click asks (parsing, --help), not when the option is declared: an
entry registered after the command was imported is a choice too.

Usage::

    @click.option("--fusion", type=RegistryChoice(FUSIONS), default="photometric")
    @backend_option()
    def command(fusion, backend): ...
"""

from __future__ import annotations

from collections.abc import Callable

import click

from edgeseg.backend.open import AUTO, BACKENDS
from edgeseg.registry import Registry


class RegistryChoice(click.Choice):
    """The names of a registry (those whose metadata has these values and whose entry passes `where`), after
    `first` (fixed choices such as "auto"), as they are when click reads them."""

    def __init__(self, registry: Registry, *, first: tuple[str, ...] = (), where: Callable | None = None,
                 **meta):
        self.registry, self.first, self.where, self.meta = registry, tuple(first), where, meta
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        return (*self.first, *self.registry.names(self.where, **self.meta))

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ and copies assign it: the registry decides
        pass


def backend_option(**options):
    """The --backend option of the commands that open a model: auto or a registered kind."""
    options = {"default": AUTO, "show_default": True, **options}
    return click.option("--backend", type=RegistryChoice(BACKENDS, first=(AUTO,)), **options)
