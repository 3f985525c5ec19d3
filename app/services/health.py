"""HealthService: liveness and readiness, as probes (Kubernetes, load balancers) ask for them."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.errors import ServiceUnavailable, StorageUnavailable
from app.services.catalog import Catalog


class HealthService:
    def __init__(self, ping_storage: Callable[[], None], catalog: Catalog) -> None:
        self._ping_storage = ping_storage
        self._catalog = catalog

    def readiness(self) -> dict[str, bool]:
        """Checks by name, all true; raises ``SERVICE_UNAVAILABLE`` with the checks when one fails."""
        checks = {"algorithm": len(self._catalog) > 0, "redis": self._storage_answers()}
        if not all(checks.values()):
            failing = ", ".join(name for name, ok in checks.items() if not ok)
            raise ServiceUnavailable(f"Not ready: {failing} check failed", {"checks": checks})
        return checks

    def _storage_answers(self) -> bool:
        try:
            self._ping_storage()
        except StorageUnavailable:
            return False
        return True
