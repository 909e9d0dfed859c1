"""Liveness and readiness. Hand-owned: ``python -m codegen`` never rewrites it."""

from __future__ import annotations

from collections.abc import Callable

from app.modules.components import Health, Readiness
from app.modules.ops.schemas import (
    GetLiveness200,
    GetLivenessRequest,
    GetMetrics200,
    GetMetricsRequest,
    GetReadiness200,
    GetReadinessRequest,
)
from runtime import NotFound, ServiceUnavailable, get_logger, service

log = get_logger(__name__)


class OpsServiceImpl:
    def __init__(self, checks: dict[str, Callable[[], object] | None]) -> None:
        self.checks = checks

    def get_liveness(self, request: GetLivenessRequest) -> GetLiveness200:
        return GetLiveness200(body=Health.model_validate({"status": "ok"}))

    def get_metrics(self, request: GetMetricsRequest) -> GetMetrics200:
        # WHY: with METRICS_ENABLED the runtime's middleware answers before any handler runs.
        raise NotFound("Metrics are turned off (METRICS_ENABLED=false).")

    def get_readiness(self, request: GetReadinessRequest) -> GetReadiness200:
        results: dict[str, str] = {}
        failed: list[str] = []
        for name, check in self.checks.items():
            if check is None:
                results[name] = "skipped"
                continue
            try:
                check()
            except Exception as exc:
                log.warning("readiness_check_failed", dependency=name, error=type(exc).__name__)
                failed.append(name)
            else:
                results[name] = "ok"
        if failed:
            raise ServiceUnavailable(f"Not ready: {', '.join(failed)} unavailable.", retry_after=5)
        return GetReadiness200(body=Readiness.model_validate({"status": "ok", "checks": results}))


def get_service() -> OpsServiceImpl:
    """The current app's ops service (built in ``app.wiring``)."""
    return service(OpsServiceImpl)
