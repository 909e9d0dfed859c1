"""Fixtures shared by every suite: real PostgreSQL and Redis, and the app bound to them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, error: Exception) -> None:
    """Fail in CI, where the service must be there; skip elsewhere, saying why."""
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI must provide it.", pytrace=False)
    pytest.skip(f"{message}; start it to run this test.")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    from app.migrate import upgrade

    name = f"app_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        unavailable("PostgreSQL", exc)
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
            text("TRUNCATE projects, tasks, refresh_tokens, refresh_families, users CASCADE")
        )
    engine.dispose()


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()
