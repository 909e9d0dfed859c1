from __future__ import annotations

import orjson
from opentelemetry import trace

from runtime.errors import (
    TYPE_BASE,
    FieldError,
    NotFound,
    Problem,
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


def test_a_framework_problem_keeps_its_title_and_detail() -> None:
    problem = problem_for_status(405, "Use GET.", headers={"Allow": "GET"})
    assert problem.to_dict() == {
        "type": TYPE_BASE + "method-not-allowed",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "Use GET.",
    }
    assert str(problem) == "Use GET."
    unknown = problem_for_status(418)
    assert unknown.to_dict() == {
        "type": TYPE_BASE + "http-error",
        "title": "HTTP Error",
        "status": 418,
    }
    assert str(unknown) == "HTTP Error"


def test_a_problem_without_detail_reads_as_its_title_and_with_one_as_the_detail() -> None:
    assert str(NotFound()) == "Not Found"
    assert "detail" not in NotFound().to_dict()
    assert str(NotFound("There is no project 1.")) == "There is no project 1."
    custom = Problem("Teapot.", status=418, title="I'm a Teapot", kind="teapot")
    assert (custom.status, custom.title, custom.type) == (418, "I'm a Teapot", TYPE_BASE + "teapot")
    # The class defaults stay untouched by an instance's overrides.
    assert (Problem.status, Problem.title, Problem.kind) == (
        500,
        "Internal Server Error",
        "internal-error",
    )


def test_the_validation_detail_counts_fields_in_the_singular_and_plural() -> None:
    one = ValidationProblem(errors=[FieldError("#/a", "x")])
    two = ValidationProblem(errors=[FieldError("#/a", "x"), FieldError("#/b", "y")])
    assert (one.detail, two.detail) == (
        "1 invalid field; see errors.",
        "2 invalid fields; see errors.",
    )
    assert ValidationProblem().detail == "0 invalid fields; see errors."
    assert ValidationProblem("Bad page token.").detail == "Bad page token."


def test_service_unavailable_keeps_its_detail_and_defaults_to_five_seconds() -> None:
    problem = ServiceUnavailable("Down for maintenance.")
    assert problem.headers == {"Retry-After": "5"}
    assert problem.to_dict()["detail"] == "Down for maintenance."


def test_a_problem_stays_within_the_bounds_the_spec_declares() -> None:
    errors = [FieldError("#/" + "p" * 5000, "x" * 5000) for _ in range(150)]
    problem = ValidationProblem("d" * 5000, errors=errors)
    body = orjson.loads(problem.to_json(instance="/" + "i" * 5000))
    assert len(body["detail"]) == 1024 and body["detail"].endswith("\u2026")
    assert len(body["instance"]) == 2048
    assert len(body["errors"]) == 100
    assert {len(e["pointer"]) for e in body["errors"]} == {1024}
    assert {len(e["detail"]) for e in body["errors"]} == {1024}


def test_the_validation_detail_counts_every_field_even_past_the_listed_hundred() -> None:
    problem = ValidationProblem(errors=[FieldError(f"#/f{i}", "is unknown") for i in range(150)])
    body = orjson.loads(problem.to_json())
    assert body["detail"] == "150 invalid fields; the first 100 are in errors."
    assert len(body["errors"]) == 100
    assert body["errors"][-1]["pointer"] == "#/f99"


def test_exactly_a_hundred_field_errors_are_all_listed_and_the_detail_says_so() -> None:
    problem = ValidationProblem(errors=[FieldError(f"#/f{i}", "is unknown") for i in range(100)])
    body = orjson.loads(problem.to_json())
    assert body["detail"] == "100 invalid fields; see errors."
    assert len(body["errors"]) == 100


def test_texts_within_the_bounds_are_kept_whole() -> None:
    problem = ValidationProblem("d" * 1024, errors=[FieldError("#/a", "y" * 1024)])
    body = orjson.loads(problem.to_json(instance="/" + "i" * 2047))
    assert body["detail"] == "d" * 1024
    assert body["errors"][0]["detail"] == "y" * 1024
    assert len(body["instance"]) == 2048


def test_a_problem_inside_a_trace_names_the_trace_and_outside_one_does_not() -> None:
    span = trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0xABC, span_id=0x1, is_remote=False, trace_flags=trace.TraceFlags(1)
        )
    )
    with trace.use_span(span):
        inside = NotFound("gone").to_dict()
    assert inside["trace_id"] == f"{0xABC:032x}"
    assert "trace_id" not in NotFound("gone").to_dict()
