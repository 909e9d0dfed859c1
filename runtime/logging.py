"""structlog JSON logs on stderr; the standard library's loggers (Connexion, Gunicorn) share the
format through a ``ProcessorFormatter``."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import threading
from typing import Any

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "[redacted]"
_SECRET_KEYS = ("password", "secret", "token", "authorization", "cookie", "api_key")


_SECRET_TEXT = re.compile(
    r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
)


_key_is_secret: dict[str, bool] = {}


def _names_a_secret(key: str) -> bool:
    lowered = key.lower()
    secret = any(marker in lowered for marker in _SECRET_KEYS)
    if len(_key_is_secret) < 1024:
        _key_is_secret[key] = secret
    return secret


def redact_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Blank any field whose name says it holds a secret, and any JWT or bearer credential
    inside a text value (an exception message quoting a header, say)."""
    for key, value in event.items():
        secret = _key_is_secret.get(key)
        if secret is None:
            secret = _names_a_secret(key)
        if secret:
            event[key] = REDACTED
        elif isinstance(value, str) and ("eyJ" in value or "earer" in value):
            event[key] = _SECRET_TEXT.sub(REDACTED, value)
    return event


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def final_processors(json: bool) -> list[Processor]:
    # WHY: redaction after the traceback is rendered, so a token quoted in an exception
    # message is blanked in the `exception` field too.
    return [structlog.processors.format_exc_info, redact_secrets, _renderer(json)]


def _unserializable(value: Any) -> Any:
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


# WHY the standard library's encoder, not orjson: the lines must stay byte-for-byte what they
# were (`"key": value, ...`); tests/contract/test_schemathesis.py counts them by that text.
# One encoder built up front costs a fraction of `json.dumps`, which builds one per call.
_ENCODER = json.JSONEncoder(default=_unserializable)


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | None):
        return value
    try:
        return repr(value)
    except Exception:  # WHY: a broken __repr__ must not fail the request
        return f"<unrepresentable {type(value).__name__}>"


def render_json(_: WrappedLogger, __: str, event: EventDict) -> str:
    try:
        return _ENCODER.encode(event)
    except Exception:  # WHY: any value; the line is rendered field by field below
        # WHY: the standard library swallowed a line it could not render; a native logger
        # would raise into the request instead.
        return _ENCODER.encode({str(key): _plain(value) for key, value in event.items()})


def _renderer(json: bool) -> Processor:
    return render_json if json else structlog.dev.ConsoleRenderer(colors=False)


def logging_config(*, level: str = "INFO", json: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict that renders every standard-library record the way
    ``configure_logging`` renders ours."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *final_processors(json),
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


_write_lock = threading.Lock()


def _new_write_lock() -> None:
    global _write_lock
    _write_lock = threading.Lock()


# WHY: a lock held by another thread at fork() would stay held forever in the child.
os.register_at_fork(after_in_child=_new_write_lock)


class StderrLogger:
    """Writes each rendered line, whole, to whatever ``sys.stderr`` is at the time."""

    __slots__ = ("name",)

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    # WHY sys.stderr looked up per line, not bound at configure time: pytest swaps it per phase
    # (capsys, and the capture the secret scan reads), and a logger cached on first use would
    # otherwise keep writing into a stream that is gone.
    def msg(self, message: str) -> None:
        stream = sys.stderr
        with _write_lock:
            try:
                stream.write(message + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # WHY: a closed or broken stderr must not fail the request, as in stdlib.

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_LEVEL_OF = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


class _AtLeast:
    """Drops events below a level."""

    def __init__(self, level: str) -> None:
        self._minimum = logging.getLevelNamesMapping()[level.upper()]

    def __call__(self, _: WrappedLogger, method_name: str, event: EventDict) -> EventDict:
        if _LEVEL_OF.get(method_name, logging.CRITICAL) < self._minimum:
            raise structlog.DropEvent
        return event


# WHY one list, refilled by each configure_logging: loggers cached on first use keep the list
# they were built with, so a later configuration (another level, console lines) still reaches
# them. For the same reason the level is a processor here rather than
# make_filtering_bound_logger(level), whose class a cached logger would keep forever.
_native_chain: list[Processor] = []


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    logging.config.dictConfig(logging_config(level=level, json=json))
    _native_chain[:] = [
        _AtLeast(level),
        *shared_processors(),
        *final_processors(json),
    ]
    # WHY native structlog, not the standard library, for our own loggers: the access line is
    # written on every request, and a logging.Logger, LogRecord and ProcessorFormatter cost
    # several times the whole native chain. Same processors, same output, same stream.
    structlog.configure(
        processors=_native_chain,
        logger_factory=StderrLogger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
