"""The strict-handler promise: a service that drifts from the spec fails mypy, by name."""

from __future__ import annotations

from pathlib import Path

from tests.unit.codegen.kit import PACKAGE_DIR, make_project, mypy, run

SERVICE = '''\
"""A hand-written service that answers getHealth."""

from __future__ import annotations

from .schemas import GetHealth200, GetHealth200Body, GetHealthRequest, GetHealthResponse


class HealthChecksServiceImpl:
    def get_health(self, request: GetHealthRequest, /) -> GetHealthResponse:
        return GetHealth200(body=GetHealth200Body(status="ok", uptime_seconds=UPTIME))


def get_service() -> HealthChecksServiceImpl:
    return HealthChecksServiceImpl()
'''


def test_a_changed_response_schema_makes_mypy_name_the_operation_until_the_service_follows(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, "small.yaml")
    assert run(root).exit_code == 0
    service = root / PACKAGE_DIR / "health_checks" / "service.py"
    service.write_text(SERVICE.replace("UPTIME", "3"))
    assert mypy(root).exit_code == 0

    spec = root / "openapi.yaml"
    spec.write_text(
        spec.read_text().replace(
            "                  uptime_seconds:\n                    type: integer",
            "                  uptime_seconds:\n                    type: string",
        )
    )
    assert run(root).exit_code == 0
    drifted = mypy(root)
    assert drifted.exit_code == 1
    assert 'In member "get_health" of class "HealthChecksServiceImpl"' in drifted.stdout
    assert (
        'service.py:10: error: Argument "uptime_seconds" to "GetHealth200Body" has '
        'incompatible type "int"; expected "str | None"'
    ) in drifted.stdout

    service.write_text(SERVICE.replace("UPTIME", '"3 s"'))
    assert mypy(root).exit_code == 0, mypy(root).stdout
