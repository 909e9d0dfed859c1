"""Builds the Connexion ``FlaskApp`` from the generated registry, the spec and settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from pydantic import BaseModel
from starlette.middleware.cors import CORSMiddleware

from runtime.auth import Principal, security_map
from runtime.contract import body_model
from runtime.deadline import DeadlineMiddleware
from runtime.edges import BodySizeLimitMiddleware, cors_options
from runtime.errors.handlers import AllowedMethods, install_error_handlers
from runtime.flask_app import RuntimeFlaskApp
from runtime.metrics import install_metrics
from runtime.middleware import RejectControlCharactersInPath, RequestContextMiddleware
from runtime.probes import ProbeMiddleware
from runtime.ratelimit import RateLimitMiddleware, rate_limit_policies
from runtime.routing import OperationResolver, Registry
from runtime.settings import RuntimeSettings
from runtime.tracing import TracingMiddleware
from runtime.validation import body_validators


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
    registry: Registry,
    settings: RuntimeSettings,
    verify_token: Callable[[str], Principal] | None = None,
    verify_token_blocking: bool = True,
    arguments: Mapping[str, Any] | None = None,
    readiness_checks: Mapping[str, Callable[[], object] | None] | None = None,
) -> RuntimeFlaskApp:
    """A Connexion ``FlaskApp`` with problem+json errors, request ids, and all-errors validation.

    Every operation fact (routes, methods, policies) comes from the generated ``registry``;
    Connexion alone reads ``spec_path``, to bind and validate. ``readiness_checks`` makes
    ``/livez`` and ``/readyz`` answered on the event loop."""
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
    base = registry.base_path
    policies = registry.policies
    # WHY: within one position the middleware added first is the outermost. These wrap the
    # exception middleware, so error responses carry the request id, headers and CORS too.
    routes = registry.route_templates()
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
        install_metrics(app, settings, spec_sha256=registry.spec_sha256, path=scrape_path)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            **cors_options(settings.cors_origins, methods=registry.methods()),
        )
    if readiness_checks is not None:
        app.add_middleware(
            ProbeMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            base_path=base,
            checks=readiness_checks,
            operation_ids={
                kind: registry.operation_at("GET", path) or ""
                for kind, path in (("live", "/livez"), ("ready", "/readyz"))
            },
        )
    # WHY: after routing (the operation's x-deadline), inside the exception middleware (the
    # 503 is rendered as a problem), around security, rate limits and the handler.
    app.add_middleware(
        DeadlineMiddleware,
        position=MiddlewarePosition.BEFORE_SECURITY,
        default_s=settings.request_deadline_s,
        per_operation={op: p.get("deadline_s") for op, p in policies.items()},
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
            policies=rate_limit_policies(policies),
            storage_url=settings.redis_url,
            namespace=f"rl:{settings.service_name}",
        )
    resolver = OperationResolver(registry)
    app.add_api(
        spec_path.name,
        resolver=resolver,
        strict_validation=True,
        validate_responses=settings.validate_responses,
        validator_map=body_validators(_body_models(resolver, registry.operations)),
        security_map=(
            security_map(verify_token, blocking=verify_token_blocking) if verify_token else None
        ),
        pythonic_params=False,
        arguments=dict(arguments or {}),
    )
    install_error_handlers(app, AllowedMethods(base, registry.methods_by_path))
    structlog.get_logger("runtime").debug("app_built", operations=len(registry.operations))
    return app
