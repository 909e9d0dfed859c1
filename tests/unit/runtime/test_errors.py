from __future__ import annotations

import orjson

from runtime.errors import (
    TYPE_BASE,
    FieldError,
    NotFound,
    ServiceUnavailable,
    ValidationProblem,
    problem_for_status,
)


def test_a_problem_serialises_as_rfc9457_with_request_id_and_errors() -> None:
    problem = ValidationProblem(errors=[FieldError("#/name", "is required")])
    body = orjson.loads(problem.to_json(instance="/api/v1/projects", request_id="abc"))
    assert body == {
        "type": TYPE_BASE + "validation",
        "title": "Request Validation Failed",
        "status": 400,
        "detail": "1 invalid field; see errors.",
        "instance": "/api/v1/projects",
        "request_id": "abc",
        "errors": [{"pointer": "#/name", "detail": "is required"}],
    }


def test_subclasses_fix_status_and_type() -> None:
    problem = NotFound("There is no project 1.")
    assert (problem.status, problem.type) == (404, TYPE_BASE + "not-found")
    assert "errors" not in problem.to_dict()


def test_service_unavailable_tells_when_to_retry() -> None:
    assert ServiceUnavailable(retry_after=7).headers == {"Retry-After": "7"}


def test_framework_statuses_get_stable_types() -> None:
    problem = problem_for_status(405, headers={"Allow": "GET"})
    assert (problem.status, problem.kind, problem.headers) == (
        405,
        "method-not-allowed",
        {"Allow": "GET"},
    )
    assert problem_for_status(418).kind == "http-error"
