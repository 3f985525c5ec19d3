"""Name → algorithm: the one place that knows which algorithms exist."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
from collections.abc import Iterator
from importlib.metadata import entry_points

from algorithms.base import Algorithm, InvalidDeclaration

log = logging.getLogger(__name__)

#: Entry-point group through which other installed packages contribute algorithms.
ENTRY_POINT_GROUP = "functionalscaffold.algorithms"
#: Environment variable listing extra modules (comma-separated) to import for their algorithms.
MODULES_ENV = "ALGORITHM_MODULES"
#: Modules of this package that hold machinery, not algorithms.
_MACHINERY = {"base", "context", "registry"}


class AlgorithmNotFound(LookupError):
    """No algorithm of that name is registered."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"Algorithm {name!r} not found")
        self.name = name
        self.available = available


class Registry:
    """Holds one instance of each registered algorithm class, by name."""

    def __init__(self) -> None:
        self._algorithms: dict[str, Algorithm] = {}

    def register(self, cls: type[Algorithm]) -> type[Algorithm]:
        """Class decorator: add an algorithm; a second class with the same name is refused."""
        if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
            raise InvalidDeclaration(f"{cls!r} is not an Algorithm subclass")
        existing = self._algorithms.get(cls.name)
        if existing is not None and type(existing) is not cls:
            raise InvalidDeclaration(f"algorithm name {cls.name!r} is already taken by {type(existing).__module__}")
        self._algorithms[cls.name] = cls()
        return cls

    def unregister(self, name: str) -> None:
        """Remove an algorithm (tests, plugins reloading); unknown names are ignored."""
        self._algorithms.pop(name, None)

    def get(self, name: str) -> Algorithm:
        """The algorithm called ``name``; raises ``AlgorithmNotFound`` listing the available names."""
        try:
            return self._algorithms[name]
        except KeyError:
            raise AlgorithmNotFound(name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self._algorithms)

    def __iter__(self) -> Iterator[Algorithm]:
        return iter(self._algorithms[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._algorithms)


#: The process-wide registry that ``@register`` fills.
registry = Registry()
register = registry.register


def load_algorithms() -> Registry:
    """Import every algorithm module once: this package's (sorted), entry points, then ``ALGORITHM_MODULES``.

    Importing is what registers: each module decorates its class with ``@register``. Python caches
    imports, so calling this again is cheap and registers nothing twice.
    """
    package = importlib.import_module("algorithms")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _MACHINERY:
            continue
        importlib.import_module(f"algorithms.{info.name}")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        log.debug("loading algorithm entry point %s", entry_point.name)
        entry_point.load()
    for module in filter(None, (m.strip() for m in os.environ.get(MODULES_ENV, "").split(","))):
        importlib.import_module(module)
    return registry
