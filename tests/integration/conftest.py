"""The app in-process against the real PostgreSQL and Redis, with real accounts and tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from app import create_app
from app.config import Settings
from runtime.auth import KeyRing, KeyRingSource, TokenService
from runtime.testing import app_client

API = "/api/v1"
PASSWORD = "correct horse battery staple"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"environment": "test", "validate_responses": True, **overrides}
    return Settings(**values)


@pytest.fixture(scope="session")
def key_ring_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "jwt-keys.json"
    KeyRing.generate(path)
    return path


@pytest.fixture
def app_settings(clean_postgres: str, clean_redis: str, key_ring_file: Path) -> Settings:
    return make_settings(
        database_url=clean_postgres, redis_url=clean_redis, jwt_keys_file=key_ring_file
    )


# WHY: another test session on the same machine shares the test Redis database and FLUSHDB it
# around every test; a flush in the middle of a test that counts attempts or revokes tokens would
# reset its state. A database nobody flushes, and a namespace per test, keep that state its own.
ISOLATED_REDIS_DB = 11


@pytest.fixture
def isolated_app_settings(
    clean_postgres: str, redis_url: str, key_ring_file: Path
) -> Iterator[Settings]:
    isolated = urlsplit(redis_url)._replace(path=f"/{ISOLATED_REDIS_DB}").geturl()
    namespace = f"security-{uuid.uuid4().hex}"
    yield make_settings(
        database_url=clean_postgres,
        redis_url=isolated,
        jwt_keys_file=key_ring_file,
        service_name=namespace,
    )
    client = redis.Redis.from_url(isolated)
    try:
        for key in client.scan_iter(match=f"*rl:{namespace}/*"):
            client.delete(key)
    finally:
        client.close()


def age_uses(database_url: str, seconds: int = 60) -> None:
    """Move every recorded use of a refresh token ``seconds`` into the past: a replay then is
    reuse, past ``REFRESH_REUSE_GRACE_S``, not the same client racing itself."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE refresh_tokens SET used_at = used_at - make_interval(secs => :s) "
                    "WHERE used_at IS NOT NULL"
                ),
                {"s": seconds},
            )
    finally:
        engine.dispose()


def token_service(settings: Settings) -> TokenService:
    assert settings.jwt_keys_file is not None
    return TokenService(
        KeyRingSource(settings.jwt_keys_file),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_token_ttl_s=settings.access_token_ttl_s,
    )


def register_and_login(client: TestClient, email: str | None = None) -> dict[str, Any]:
    """A new account's token pair, plus its ``email`` and ``headers`` for requests."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    registered = client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    pair = client.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD})
    assert pair.status_code == 200, pair.text
    body: dict[str, Any] = pair.json()
    body["email"] = email
    body["id"] = registered.json()["id"]
    body["headers"] = {"Authorization": f"Bearer {body['access_token']}"}
    return body


@pytest.fixture
def anonymous(app_settings: Settings) -> Iterator[TestClient]:
    """A client of the app with no credentials."""
    with app_client(create_app(app_settings)) as test_client:
        yield test_client


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """The app as a freshly registered user ("user A")."""
    anonymous.headers.update(register_and_login(anonymous)["headers"])
    return anonymous


@pytest.fixture
def other_headers(anonymous: TestClient) -> dict[str, str]:
    """Credentials of a second, unrelated user ("user B")."""
    headers: dict[str, str] = register_and_login(anonymous)["headers"]
    return headers


@pytest.fixture
def make_admin(clean_postgres: str) -> Callable[[str], None]:
    def promote(email: str) -> None:
        engine = create_engine(clean_postgres)
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE users SET role = 'admin' WHERE email = :email"), {"email": email}
            )
        engine.dispose()

    return promote
