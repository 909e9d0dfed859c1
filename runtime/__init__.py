"""The runtime library under every service the toolchain generates.

This module is the public surface: apps import from ``runtime`` and nothing deeper, except
the generated adapters, which use :mod:`runtime.contract`, and tests, which use
:mod:`runtime.testing`. Every other submodule is internal and may change without notice."""

from runtime.app import build_app
from runtime.auth import (
    Authenticator,
    Denylist,
    InvalidToken,
    IssuedToken,
    KeyRing,
    KeyRingError,
    KeyRingSource,
    Principal,
    Revocations,
    RevocationStore,
    TokenService,
    current_principal,
)
from runtime.conditional import (
    check_if_match,
    entity_tag,
    install_precondition_required,
    not_modified,
)
from runtime.db import Database, make_engine
from runtime.errors import (
    Conflict,
    FieldError,
    Forbidden,
    MalformedRequest,
    NotFound,
    Problem,
    ServiceUnavailable,
    Unauthenticated,
    ValidationProblem,
)
from runtime.idempotency import Idempotency, idempotency_table
from runtime.logging import configure_logging, get_logger
from runtime.metrics import LOGINS
from runtime.pagination import Page, Position, as_utc, cursor_position, keyset, page
from runtime.passwords import Passwords
from runtime.redis_client import make_redis
from runtime.routing import Registry, RegistryError, check_registry
from runtime.services import close_app, install_services, on_close, service
from runtime.settings import ConfigurationError, RuntimeSettings
from runtime.tracing import configure_tracing

__version__ = "0.1.0"

__all__ = [
    "LOGINS",
    "Authenticator",
    "ConfigurationError",
    "Conflict",
    "Database",
    "Denylist",
    "FieldError",
    "Forbidden",
    "Idempotency",
    "InvalidToken",
    "IssuedToken",
    "KeyRing",
    "KeyRingError",
    "KeyRingSource",
    "MalformedRequest",
    "NotFound",
    "Page",
    "Passwords",
    "Position",
    "Principal",
    "Problem",
    "Registry",
    "RegistryError",
    "RevocationStore",
    "Revocations",
    "RuntimeSettings",
    "ServiceUnavailable",
    "TokenService",
    "Unauthenticated",
    "ValidationProblem",
    "as_utc",
    "build_app",
    "check_if_match",
    "check_registry",
    "close_app",
    "configure_logging",
    "configure_tracing",
    "current_principal",
    "cursor_position",
    "entity_tag",
    "get_logger",
    "idempotency_table",
    "install_precondition_required",
    "install_services",
    "keyset",
    "make_engine",
    "make_redis",
    "not_modified",
    "on_close",
    "page",
    "service",
]
