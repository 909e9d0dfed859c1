"""The reference application: projects and tasks, served from ``openapi.yaml``."""

from __future__ import annotations

import connexion

from app import wiring
from app.common.orm import IDEMPOTENCY_KEYS
from app.config import Settings, load_settings
from app.modules import operations
from runtime import (
    Registry,
    build_app,
    check_registry,
    configure_logging,
    configure_tracing,
    install_precondition_required,
    install_services,
    on_close,
)

REGISTRY = Registry.from_module(operations)


def verify_registry(settings: Settings) -> None:
    """Raise ``RegistryError`` when the generated registry does not serve the configured spec."""
    check_registry(settings.openapi_spec, REGISTRY)


def create_app(settings: Settings | None = None) -> connexion.FlaskApp:
    """Build the ASGI app; nothing here runs at import time, and nothing is shared with
    another app of the same process.

    Migrations are not run here: ``gunicorn.conf.py`` runs them once in the master process
    (``python -m app.migrate`` does the same by hand), so workers never race each other."""
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    verify_registry(settings)
    ext = wiring.build_extensions(settings)
    app = build_app(
        import_name=__name__,
        spec_path=settings.openapi_spec,
        registry=REGISTRY,
        settings=settings,
        verify_token=ext.authenticator.verify,
        verify_token_blocking=False,
        readiness_checks=ext.readiness_checks(),
    )
    flask_app = app.app
    wiring.install(flask_app, ext)
    on_close(flask_app, ext.close)
    install_services(flask_app, wiring.service_factories(ext))
    configure_tracing(engine=ext.db.engine, service_name=settings.service_name)
    ext.db.init_app(flask_app)
    flask_app.before_request(ext.authenticator.reject_revoked)
    install_precondition_required(flask_app, REGISTRY.policies)
    # WHY: after the revocation check (a replay never answers a revoked token) and after
    # db.init_app (its answer is stored before the one commit).
    fingerprint_key = settings.idempotency_fingerprint_key
    ext.idempotency.init_app(
        flask_app,
        session=lambda: ext.db.session,
        table=IDEMPOTENCY_KEYS,
        policies=REGISTRY.policies,
        ttl_s=settings.idempotency_ttl_s,
        secret=fingerprint_key.get_secret_value().encode() if fingerprint_key else b"",
    )
    flask_app.config["SETTINGS"] = settings
    return app
