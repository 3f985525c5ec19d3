"""The declaration every algorithm makes: a name, a version, a params schema and a pure ``run``."""

from __future__ import annotations

import inspect
import re
from typing import Any, ClassVar

from marshmallow import Schema

from algorithms.context import Context
from algorithms.retries import RetryPolicy

#: Algorithm names are wire values (job records, metric labels, URLs): keep them short and plain.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
#: Semantic version, as reported in every result's metadata.
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")


class InvalidDeclaration(TypeError):
    """An algorithm class is missing part of its declaration; raised when its module is imported."""


class Algorithm:
    """Base class of algorithms.

    A subclass declares ``name``, ``version``, an inner marshmallow ``Params`` schema, an ``example``
    params dict, and implements ``run(params) -> dict`` with no I/O: the platform validates params,
    times the call, stores the result and reports errors. ``run(params, context)`` also receives a
    ``Context``, to report progress while it runs. The declaration is checked when the subclass is
    created, so a mistake fails at import, not at the first request.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[Schema]]
    #: Params that run quickly and succeed; used by docs and by the contract test of every algorithm.
    example: ClassVar[dict[str, Any]]
    #: Seconds a job of this algorithm may run when its submission names no ``timeout`` (optional).
    default_timeout: ClassVar[float | None] = None
    #: How a failed run of this algorithm is retried when its submission gives no policy (optional:
    #: ``algorithms.RetryPolicy``; without one, a job runs once). See ``algorithms.retries``.
    retry: ClassVar[Any] = None
    #: Whether ``run`` is declared with a ``context`` parameter (set at class creation).
    _run_takes_context: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        where = f"{cls.__module__}.{cls.__qualname__}"
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise InvalidDeclaration(f"{where}: set `name` to a string matching {NAME_PATTERN.pattern}")
        version = cls.__dict__.get("version")
        if not isinstance(version, str) or not VERSION_PATTERN.match(version):
            raise InvalidDeclaration(f"{where}: set `version` to a semantic version such as '1.0.0'")
        params = cls.__dict__.get("Params")
        if not (isinstance(params, type) and issubclass(params, Schema)):
            raise InvalidDeclaration(f"{where}: declare an inner `class Params(marshmallow.Schema)`")
        if not isinstance(cls.__dict__.get("example"), dict):
            raise InvalidDeclaration(f"{where}: set `example` to a dict of valid params")
        if cls.run is Algorithm.run:
            raise InvalidDeclaration(f"{where}: implement `run(self, params) -> dict`")
        retry = cls.__dict__.get("retry")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidDeclaration(f"{where}: set `retry` to an algorithms.RetryPolicy, or leave it unset")
        cls._run_takes_context = _takes_context(cls.run, where)

    def __init__(self) -> None:
        # Schemas are safe to share between threads; build it once, not per call.
        self.params_schema = self.Params()

    def load_params(self, raw: Any) -> dict[str, Any]:
        """Validate and convert raw params; raises ``marshmallow.ValidationError``."""
        return self.params_schema.load(raw)

    def run(self, params: dict[str, Any]) -> dict[str, Any]:
        """Compute the result from validated params. Pure: no I/O, no shared state.

        Declared as ``run(self, params, context)``, it also gets a ``Context``, to report progress.
        """
        raise NotImplementedError

    def call(self, params: dict[str, Any], context: Context) -> dict[str, Any]:
        """Run with ``context`` when ``run`` takes one: how the platform calls every algorithm."""
        return self.run(params, context) if self._run_takes_context else self.run(params)

    def is_quick(self, params: dict[str, Any]) -> bool:
        """True when ``run(params)`` surely ends within a few milliseconds (optional).

        A worker runs such a job in its own thread rather than in a child process: it saves the
        round trip to the child, and a run that short needs no way to be stopped.
        """
        return False


def _takes_context(run: Any, where: str) -> bool:
    """Whether ``run`` is ``run(self, params, context)`` rather than ``run(self, params)``."""
    signature = inspect.signature(run)
    for arguments, takes_context in (((None, {}, None), True), ((None, {}), False)):
        try:
            signature.bind(*arguments)
        except TypeError:
            continue
        return takes_context
    raise InvalidDeclaration(f"{where}: `run` must take (self, params) or (self, params, context)")
