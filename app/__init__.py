"""The reference application: projects and tasks, served from ``openapi.yaml``."""

from __future__ import annotations

import connexion

from app.common.orm import IDEMPOTENCY_KEYS
from app.config import Settings, load_settings
from app.extensions import db, idempotency, init_extensions, readiness_checks, security
from runtime.app import build_app
from runtime.conditional import install_precondition_required
from runtime.logging import configure_logging
from runtime.routing import check_registry
from runtime.tracing import configure_tracing


def verify_registry(settings: Settings) -> None:
    """Raise ``RegistryError`` when the generated registry does not serve the configured spec."""
    from app.modules import operations

    check_registry(
        settings.openapi_spec,
        operations.OPERATIONS,
        operations.SPEC_SHA256,
        operations.DERIVED_OPERATION_IDS,
    )


def create_app(settings: Settings | None = None) -> connexion.FlaskApp:
    """Build the ASGI app; nothing here runs at import time.

    Migrations are not run here: ``gunicorn.conf.py`` runs them once in the master process
    (``python -m app.migrate`` does the same by hand), so workers never race each other."""
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    verify_registry(settings)
    init_extensions(settings)

    from app.modules.operations import DERIVED_OPERATION_IDS, OPERATIONS, POLICIES

    app = build_app(
        import_name=__name__,
        spec_path=settings.openapi_spec,
        operations=OPERATIONS,
        settings=settings,
        derived_operation_ids=DERIVED_OPERATION_IDS,
        verify_token=security.authenticator.verify,
        verify_token_blocking=False,
        policies=POLICIES,
        readiness_checks=readiness_checks(),
    )
    configure_tracing(engine=db.engine, service_name=settings.service_name)
    db.init_app(app.app)
    app.app.before_request(security.authenticator.reject_revoked)
    install_precondition_required(app.app, POLICIES)
    # WHY: after the revocation check (a replay never answers a revoked token) and after
    # db.init_app (its answer is stored before the one commit).
    fingerprint_key = settings.idempotency_fingerprint_key
    idempotency.init_app(
        app.app,
        session=lambda: db.session,
        table=IDEMPOTENCY_KEYS,
        policies=POLICIES,
        ttl_s=settings.idempotency_ttl_s,
        secret=fingerprint_key.get_secret_value().encode() if fingerprint_key else b"",
    )
    app.app.config["SETTINGS"] = settings
    return app
