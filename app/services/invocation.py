"""InvocationService: run an algorithm now, for ``POST /invoke``."""

from __future__ import annotations

from typing import Any

from app.infra.shared_metrics import SharedMetrics
from app.services.catalog import Catalog
from app.services.execution import Execution, execute


class InvocationService:
    def __init__(self, catalog: Catalog, metrics: SharedMetrics) -> None:
        self._catalog = catalog
        self._metrics = metrics

    def invoke(self, algorithm_name: str, raw_params: Any, params_path: str = "params") -> Execution:
        """Validate and run; raises ``ALGORITHM_NOT_FOUND``, ``VALIDATION_ERROR`` or ``ALGORITHM_ERROR``."""
        algorithm = self._catalog.get(algorithm_name)
        params = self._catalog.load_params(algorithm, raw_params, params_path)
        return execute(algorithm, params, self._metrics)
