"""RFC 9457 problem details: the one error format of every response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from runtime.tracing import current_trace_id

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://problems.contract-first.dev/"
# WHY: the spec bounds every field of a problem (OWASP API4), and texts can quote what the
# client sent (a path, a value); a problem never grows with its request.
MAX_TEXT = 1024
MAX_INSTANCE = 2048
MAX_FIELD_ERRORS = 100


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: an RFC 6901 pointer into the request and what is wrong there."""

    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": _cut(self.pointer, MAX_TEXT), "detail": _cut(self.detail, MAX_TEXT)}


class Problem(Exception):
    """An error that becomes a problem+json response; subclasses fix the kind."""

    status: ClassVar[int] = 500
    kind: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        title: str | None = None,
        kind: str | None = None,
    ) -> None:
        if status is not None:
            self.status = status  # type: ignore[misc]
        if title is not None:
            self.title = title  # type: ignore[misc]
        if kind is not None:
            self.kind = kind  # type: ignore[misc]
        # WHY after the overrides: a framework 404 without detail must not read (in logs and
        # tracebacks) as the class default "Internal Server Error".
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})

    @property
    def type(self) -> str:
        return TYPE_BASE + self.kind

    def to_dict(
        self, *, instance: str | None = None, request_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = _cut(self.detail, MAX_TEXT)
        if instance:
            body["instance"] = _cut(instance, MAX_INSTANCE)
        if request_id:
            body["request_id"] = request_id
        trace_id = current_trace_id()
        if trace_id:
            body["trace_id"] = trace_id
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors[:MAX_FIELD_ERRORS]]
        return body

    def to_json(self, *, instance: str | None = None, request_id: str | None = None) -> bytes:
        return orjson.dumps(self.to_dict(instance=instance, request_id=request_id))


class ValidationProblem(Problem):
    status = 400
    kind = "validation"
    title = "Request Validation Failed"

    def __init__(self, detail: str | None = None, *, errors: Sequence[FieldError] = ()) -> None:
        if detail is None:
            count = len(errors)
            detail = f"{count} invalid field{'s' if count != 1 else ''}; see errors."
            if count > MAX_FIELD_ERRORS:
                detail = f"{count} invalid fields; the first {MAX_FIELD_ERRORS} are in errors."
        super().__init__(detail, errors=errors)


class MalformedRequest(Problem):
    status = 400
    kind = "malformed-request"
    title = "Malformed Request"


class Unauthenticated(Problem):
    """401; the runtime adds ``WWW-Authenticate: Bearer`` to every 401 it sends."""

    status = 401
    kind = "unauthenticated"
    title = "Unauthenticated"


class Forbidden(Problem):
    status = 403
    kind = "forbidden"
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    kind = "not-found"
    title = "Not Found"


class Conflict(Problem):
    status = 409
    kind = "conflict"
    title = "Conflict"


class ServiceUnavailable(Problem):
    status = 503
    kind = "service-unavailable"
    title = "Service Unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class NotImplementedYet(Problem):
    status = 501
    kind = "not-implemented"
    title = "Not Implemented"


_KIND_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad Request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    406: ("not-acceptable", "Not Acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length-required", "Length Required"),
    413: ("content-too-large", "Content Too Large"),
    415: ("unsupported-media-type", "Unsupported Media Type"),
    422: ("unprocessable-content", "Unprocessable Content"),
    429: ("too-many-requests", "Too Many Requests"),
    500: ("internal-error", "Internal Server Error"),
    501: ("not-implemented", "Not Implemented"),
    503: ("service-unavailable", "Service Unavailable"),
}


def problem_for_status(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> Problem:
    """The problem for an HTTP status raised by the framework (routing, methods, media types)."""
    kind, title = _KIND_BY_STATUS.get(status, ("http-error", "HTTP Error"))
    return Problem(detail, status=status, title=title, kind=kind, headers=headers)
