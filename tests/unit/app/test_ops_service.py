"""The ops service's probes with checks that pass, fail or are not configured."""

from __future__ import annotations

import pytest

from app.modules.ops import schemas as os_
from app.modules.ops.service import OpsServiceImpl
from runtime.errors import NotFound, ServiceUnavailable


def ok() -> None:
    pass


def down() -> None:
    raise ConnectionError("refused")


def test_liveness_needs_no_dependency() -> None:
    service = OpsServiceImpl({"database": down})
    assert service.get_liveness(os_.GetLivenessRequest()).body.status == "ok"


def test_readiness_reports_each_check_and_skips_one_not_configured() -> None:
    ran: list[str] = []
    service = OpsServiceImpl(
        {"database": lambda: ran.append("database"), "redis": None, "queue": ok}
    )
    ready = service.get_readiness(os_.GetReadinessRequest()).body
    assert ready.status == "ok"
    assert ready.checks == {"database": "ok", "redis": "skipped", "queue": "ok"}
    assert ran == ["database"]


def test_readiness_runs_every_check_and_names_each_one_that_failed() -> None:
    ran: list[str] = []

    def counted(check: object) -> object:
        def run() -> None:
            ran.append(str(check))
            if check is down:
                down()

        return run

    service = OpsServiceImpl(
        {"database": counted(down), "redis": counted(ok), "search": counted(down)}
    )
    with pytest.raises(ServiceUnavailable) as raised:
        service.get_readiness(os_.GetReadinessRequest())
    assert raised.value.detail == "Not ready: database, search unavailable."
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": "5"}
    assert len(ran) == 3


def test_the_metrics_operation_is_not_found_when_the_middleware_does_not_answer_it() -> None:
    with pytest.raises(NotFound) as raised:
        OpsServiceImpl({}).get_metrics(os_.GetMetricsRequest())
    assert raised.value.detail == "Metrics are turned off (METRICS_ENABLED=false)."
