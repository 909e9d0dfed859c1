"""The runtime library under every service the toolchain generates.

Public surface: :func:`build_app`, :class:`RuntimeSettings`, the problem types in
:mod:`runtime.errors`, :class:`Database`, :func:`make_redis` and the adapter support in
:mod:`runtime.contract`. Everything else is internal."""

from runtime.app import build_app
from runtime.db import Database, make_engine
from runtime.errors import (
    Conflict,
    FieldError,
    NotFound,
    Problem,
    ServiceUnavailable,
    ValidationProblem,
)
from runtime.logging import configure_logging, get_logger
from runtime.redis_client import make_redis
from runtime.settings import RuntimeSettings

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "Database",
    "FieldError",
    "NotFound",
    "Problem",
    "RuntimeSettings",
    "ServiceUnavailable",
    "ValidationProblem",
    "build_app",
    "configure_logging",
    "get_logger",
    "make_engine",
    "make_redis",
]
