"""structlog JSON logs; the standard library's loggers (Connexion, Gunicorn) go through it too."""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "token", "authorization", "cookie", "api_key")


_SECRET_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
)


def redact_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Blank any field whose name says it holds a secret, and any JWT or bearer credential
    inside a text value (an exception message quoting a header, say)."""
    for key, value in event.items():
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = REDACTED
        elif isinstance(value, str) and ("eyJ" in value or "earer" in value):
            event[key] = _SECRET_TEXT.sub(REDACTED, value)
    return event


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def logging_config(*, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict that renders every record through structlog."""
    renderer: Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    renderer,
                ],
                "foreign_pre_chain": shared_processors(),
            }
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "structlog"},
        },
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # WHY: our access log replaces these; both would double every line.
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "gunicorn.error": {"level": level, "handlers": ["default"], "propagate": False},
            "uvicorn.error": {"level": level, "handlers": ["default"], "propagate": False},
        },
    }


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    logging.config.dictConfig(logging_config(level=level, json=json))
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
