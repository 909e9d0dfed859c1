"""Fixtures shared by every suite: real PostgreSQL and Redis, and the app bound to them."""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _own_handlers(logger: logging.Logger) -> list[logging.Handler]:
    # pytest attaches its capture handlers per phase and removes them itself.
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Every test starts with the logging the one before found: ``configure_logging`` binds the
    standard library's handler to the ``sys.stderr`` of the moment (capsys's, closed after the
    test), so a later test's lines would go to a dead stream and fail the secret scan."""
    from runtime import logging as runtime_logging

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    saved = {
        logger: (_own_handlers(logger), logger.level, logger.propagate, logger.disabled)
        for logger in loggers
        if isinstance(logger, logging.Logger)
    }
    structlog_config = structlog.get_config()
    chain = list(runtime_logging._native_chain)
    yield
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        if not isinstance(logger, logging.Logger):
            continue
        handlers, level, propagate, disabled = saved.get(logger, ([], logging.NOTSET, True, False))
        for handler in _own_handlers(logger):
            if handler not in handlers:
                logger.removeHandler(handler)
        for handler in handlers:
            if handler not in logger.handlers:
                logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled
    # WHY only once configured: loggers cached on first use hold the chain list itself, so
    # emptying it back to "never configured" would leave them with no renderer at all.
    if chain:
        structlog.configure(**structlog_config)
        runtime_logging._native_chain[:] = chain


def unavailable(what: str, error: Exception) -> None:
    """Fail in CI, where the service must be there; skip elsewhere, saying why."""
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI must provide it.", pytrace=False)
    pytest.skip(f"{message}; start it to run this test.")


@contextmanager
def empty_database(prefix: str = "app_blank") -> Iterator[str]:
    """A new, empty PostgreSQL database of the caller's own, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable("PostgreSQL", exc)
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    from app.migrate import upgrade

    with empty_database("app_test") as url:
        upgrade(url)
        yield url


@pytest.fixture
def blank_postgres() -> Iterator[str]:
    """An empty PostgreSQL database (no migration applied) for this test alone."""
    with empty_database() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        unavailable("Redis", exc)
    return REDIS_URL


@pytest.fixture
def clean_postgres(postgres_url: str) -> Iterator[str]:
    """The session database, emptied after the test so each test starts from nothing."""
    yield postgres_url
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE projects, tasks, refresh_tokens, refresh_families, users,"
                " idempotency_keys, revoked_access_tokens CASCADE"
            )
        )
    engine.dispose()


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


# The whole suite's captured output must never show a secret: after the last test, every
# captured log line of every test (and the servers' log files) is searched for one.
SECRET_PATTERNS = {
    "a JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "an Authorization value": re.compile(r"Bearer\s+[A-Za-z0-9._~+/-]{8,}"),
    "a test password": re.compile(r"correct horse battery|a different long passphrase"),
}
CLIENT_LOGGERS = ('"logger": "httpx', "httpx2:", "httpx:")
_leaks: list[str] = []


def find_secrets(text: str, where: str) -> list[str]:
    found = []
    for line in text.splitlines():
        if any(marker in line for marker in CLIENT_LOGGERS):
            continue  # the test client's own request log, not the service's
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(line):
                found.append(f"{where}: {what} in: {line[:160]}")
    return found


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, content in report.sections:
        if "log" in name or "stderr" in name or "stdout" in name:
            _leaks.extend(find_secrets(content, f"{report.nodeid} ({name})"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reports = Path(__file__).resolve().parent.parent / "reports"
    for log_file in sorted(reports.rglob("*.log")) if reports.exists() else []:
        _leaks.extend(find_secrets(log_file.read_text(errors="replace"), str(log_file)))
    if _leaks:
        print("\nSecrets found in captured logs:\n  " + "\n  ".join(_leaks[:20]), file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
