"""Catalog: looks up algorithms and validates their params, in the API's error terms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import marshmallow

import algorithms
from app.domain.errors import AlgorithmNotFound
from app.domain.validation import invalid_request


class Catalog:
    """The registered algorithms, as services see them."""

    def __init__(self, registry: algorithms.Registry) -> None:
        self._registry = registry

    def get(self, name: str) -> algorithms.Algorithm:
        """The algorithm called ``name``; ``ALGORITHM_NOT_FOUND`` lists the ones that exist."""
        try:
            return self._registry.get(name)
        except algorithms.AlgorithmNotFound as exc:
            raise AlgorithmNotFound(name, exc.available) from None

    def load_params(self, algorithm: algorithms.Algorithm, raw: Any, path: str = "params") -> dict[str, Any]:
        """Validate ``raw`` against the algorithm's schema; ``VALIDATION_ERROR`` names fields by ``path``."""
        try:
            return algorithm.load_params(raw)
        except marshmallow.ValidationError as exc:
            raise invalid_request(exc.messages, raw, prefix=path) from None

    def __iter__(self) -> Iterator[algorithms.Algorithm]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)
