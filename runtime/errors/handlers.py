"""The problem+json answer to every error, registered on Connexion's exception middleware."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

import connexion
import sqlalchemy.exc
from connexion.exceptions import OAuthProblem, OAuthScopeProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from runtime.errors import (
    PROBLEM_JSON,
    Conflict,
    FieldError,
    NotImplementedYet,
    Problem,
    ServiceUnavailable,
    ValidationProblem,
    problem_for_status,
)
from runtime.logging import get_logger
from runtime.metrics import AUTH_FAILURES

log = get_logger("runtime.errors")


def _dependency_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean a dependency is down or overloaded: a 503 the client may retry."""
    import redis.exceptions
    import sqlalchemy.exc

    return (
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.TimeoutError,
        sqlalchemy.exc.InterfaceError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
    )


def problem_response(request: ConnexionRequest, problem: Problem) -> ConnexionResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    return ConnexionResponse(
        status_code=problem.status,
        mimetype=PROBLEM_JSON,
        content_type=PROBLEM_JSON,
        body=problem.to_json(instance=request.url.path, request_id=request_id),
        headers=problem.headers,
    )


def _from_connexion(exc: ProblemException) -> Problem:
    # WHY: Connexion raises these for media types, missing bodies and auth before our
    # validators run; they get our problem shape and type URIs, not Connexion's about:blank.
    problem = problem_for_status(exc.status, exc.detail, headers=exc.headers or None)
    if exc.status == 400 and exc.detail:
        problem = ValidationProblem(errors=[FieldError("#", exc.detail)])
        problem.headers.update(exc.headers or {})
    return problem


class AllowedMethods:
    """The methods the spec documents for each path, for the ``Allow`` header of a 405.

    WHY: Starlette's router answers 405 with the methods of the first route that matched the
    path only (e.g. GET but not POST); the generated registry knows them all."""

    def __init__(self, base_path: str, methods_by_path: Mapping[str, tuple[str, ...]]) -> None:
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template, methods in methods_by_path.items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(base_path + template))
            self._routes.append((re.compile(pattern + "/?"), ", ".join(sorted(methods))))

    def for_path(self, path: str) -> str | None:
        for pattern, methods in self._routes:
            if pattern.fullmatch(path):
                return methods
        return None


def handle_problem(
    request: ConnexionRequest, exc: Exception, allowed: AllowedMethods | None = None
) -> ConnexionResponse:
    if isinstance(exc, Problem):
        problem = exc
    elif isinstance(exc, ProblemException):
        problem = _from_connexion(exc)
    elif isinstance(exc, HTTPException):
        problem = problem_for_status(exc.status_code, exc.detail, headers=exc.headers)
    else:
        problem = problem_for_status(500)
    if problem.status == 401:
        # WHY: RFC 9110 requires a challenge on every 401; RFC 6750 adds the error code only
        # when credentials were sent.
        sent = "authorization" in request.headers
        if not sent and isinstance(exc, OAuthProblem):
            AUTH_FAILURES.labels(reason="missing_token").inc()
        problem.headers.setdefault(
            "WWW-Authenticate", 'Bearer error="invalid_token"' if sent else "Bearer"
        )
    elif problem.status == 403 and isinstance(exc, OAuthScopeProblem):
        # WHY: Connexion's message lists the token's scopes; the client knows its own token.
        problem = problem_for_status(403, "The access token lacks a scope this operation needs.")
        AUTH_FAILURES.labels(reason="insufficient_scope").inc()
        problem.headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'

    if problem.status == 405 and allowed is not None:
        allow = allowed.for_path(request.url.path)
        if allow:
            problem.headers["Allow"] = allow
    if problem.status >= 500:
        log.error("problem", status=problem.status, kind=problem.kind, detail=problem.detail)
    else:
        log.info("problem", status=problem.status, kind=problem.kind, errors=len(problem.errors))
    return problem_response(request, problem)


def handle_dependency_down(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("dependency_unavailable", error=type(exc).__name__)
    return problem_response(
        request, ServiceUnavailable("A dependency is unavailable; retry later.")
    )


def handle_integrity_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    # WHY: a constraint the service did not pre-check (a race, a row deleted meanwhile) is the
    # client's request conflicting with current state: a 409, never a 500 with SQL in the log.
    log.warning("integrity_error", error=type(getattr(exc, "orig", exc)).__name__)
    return problem_response(
        request, Conflict("The request conflicts with the current state of the resource.")
    )


def handle_not_implemented(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    return problem_response(request, NotImplementedYet(str(exc) or None))


def handle_unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    # WHY: the traceback goes to the log only; the client learns the request id, no internals.
    log.error("unhandled_exception", exc_info=exc)
    return problem_response(request, problem_for_status(500, "An unexpected error occurred."))


def install_error_handlers(app: connexion.FlaskApp, allowed: AllowedMethods | None = None) -> None:
    problems = functools.partial(handle_problem, allowed=allowed)
    app.add_error_handler(Problem, problems)
    app.add_error_handler(ProblemException, problems)
    app.add_error_handler(HTTPException, problems)
    app.add_error_handler(sqlalchemy.exc.IntegrityError, handle_integrity_error)
    for error in _dependency_errors():
        app.add_error_handler(error, handle_dependency_down)
    app.add_error_handler(NotImplementedError, handle_not_implemented)
    app.add_error_handler(Exception, handle_unexpected)
