"""Builds the Connexion ``FlaskApp`` from a spec, the generated registry and settings."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import connexion
import sqlalchemy.exc
import structlog
import yaml
from connexion.exceptions import OAuthProblem, OAuthScopeProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware

from runtime.auth import Principal, security_map
from runtime.contract import body_model
from runtime.deadline import DeadlineMiddleware
from runtime.edges import BodySizeLimitMiddleware, cors_options
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
from runtime.flask_app import RuntimeFlaskApp
from runtime.logging import get_logger
from runtime.metrics import AUTH_FAILURES, install_metrics
from runtime.middleware import RejectControlCharactersInPath, RequestContextMiddleware
from runtime.probes import ProbeMiddleware
from runtime.ratelimit import RateLimitMiddleware, policies_from_spec
from runtime.routing import OperationResolver
from runtime.settings import RuntimeSettings
from runtime.tracing import TracingMiddleware, route_templates
from runtime.validation import body_validators

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
    path only (e.g. GET but not POST); the spec knows them all."""

    HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        servers = spec.get("servers") or [{"url": ""}]
        base = urlsplit(servers[0].get("url", "")).path.rstrip("/")
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template, item in spec.get("paths", {}).items():
            methods = [m.upper() for m in self.HTTP_METHODS if m in item]
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(base + template))
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


def _body_models(
    resolver: OperationResolver, operations: Mapping[str, str]
) -> dict[str, type[BaseModel]]:
    """operationId -> the model its adapter takes as its JSON body (``takes_body``)."""
    models = {}
    for operation_id in operations:
        model = body_model(resolver.resolve_function_from_operation_id(operation_id))
        if model is not None:
            models[operation_id] = model
    return models


def build_app(
    *,
    import_name: str,
    spec_path: Path,
    operations: Mapping[str, str],
    settings: RuntimeSettings,
    verify_token: Callable[[str], Principal] | None = None,
    verify_token_blocking: bool = True,
    arguments: Mapping[str, Any] | None = None,
    policies: Mapping[str, Mapping[str, Any]] | None = None,
    readiness_checks: Mapping[str, Callable[[], object] | None] | None = None,
) -> RuntimeFlaskApp:
    """A Connexion ``FlaskApp`` with problem+json errors, request ids, and all-errors validation.

    ``policies`` is the generated ``POLICIES`` table (``deadline_s`` per operation);
    ``readiness_checks`` makes ``/livez`` and ``/readyz`` answered on the event loop."""
    app = RuntimeFlaskApp(
        import_name,
        dispatch=None if settings.flask_dispatch == "a2wsgi" else settings.flask_dispatch,
        threads=settings.flask_threads,
        queue=settings.flask_queue,
        specification_dir=str(spec_path.parent),
        swagger_ui_options=SwaggerUIOptions(
            swagger_ui=settings.swagger_ui_enabled, swagger_ui_path="/ui"
        ),
    )
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    base = urlsplit((spec.get("servers") or [{"url": ""}])[0].get("url", "")).path.rstrip("/")
    # WHY: within one position the middleware added first is the outermost. These wrap the
    # exception middleware, so error responses carry the request id, headers and CORS too.
    routes = route_templates(spec, base)
    scrape_path = f"{base}/metrics"
    # WHY one edge layer: request id and access log, security headers, relative redirects and
    # the traffic metrics, outermost in that order (RequestContextMiddleware).
    app.add_middleware(
        RequestContextMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        routes=routes,
        quiet_operations=settings.log_quiet_operations,
        quiet_sample=settings.log_probe_sample,
        security_headers={
            "hsts": settings.is_production,
            "docs_prefix": f"{base}/ui" if settings.swagger_ui_enabled else None,
        },
        relative_redirects=True,
        traffic_metrics=settings.metrics_enabled,
        scrape_path=scrape_path if settings.metrics_enabled else None,
    )
    app.add_middleware(
        TracingMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, routes=routes
    )
    if settings.metrics_enabled:
        install_metrics(app, settings, spec_path=spec_path, path=scrape_path)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            **cors_options(settings.cors_origins, spec=spec),
        )
    if readiness_checks is not None:
        app.add_middleware(
            ProbeMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            base_path=base,
            checks=readiness_checks,
            operation_ids={
                kind: (spec.get("paths", {}).get(path, {}).get("get") or {}).get("operationId", "")
                for kind, path in (("live", "/livez"), ("ready", "/readyz"))
            },
        )
    # WHY: after routing (the operation's x-deadline), inside the exception middleware (the
    # 503 is rendered as a problem), around security, rate limits and the handler.
    app.add_middleware(
        DeadlineMiddleware,
        position=MiddlewarePosition.BEFORE_SECURITY,
        default_s=settings.request_deadline_s,
        per_operation={op: p.get("deadline_s") for op, p in (policies or {}).items()},
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        position=MiddlewarePosition.BEFORE_SWAGGER,
        max_bytes=settings.max_body_bytes,
    )
    app.add_middleware(RejectControlCharactersInPath, position=MiddlewarePosition.BEFORE_SWAGGER)
    if settings.rate_limits:
        # WHY: after routing (the operation id) and security (the caller), before validation,
        # so an attempt with an invalid body still counts.
        app.add_middleware(
            RateLimitMiddleware,
            position=MiddlewarePosition.BEFORE_VALIDATION,
            policies=policies_from_spec(spec),
            storage_url=settings.redis_url,
            namespace=f"rl:{settings.service_name}",
        )
    resolver = OperationResolver(operations)
    app.add_api(
        spec_path.name,
        resolver=resolver,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=body_validators(_body_models(resolver, operations)),
        security_map=(
            security_map(verify_token, blocking=verify_token_blocking) if verify_token else None
        ),
        pythonic_params=False,
        arguments=dict(arguments or {}),
    )
    install_error_handlers(app, AllowedMethods(spec))
    structlog.get_logger("runtime").debug("app_built", operations=len(operations))
    return app
