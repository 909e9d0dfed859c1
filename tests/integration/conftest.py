"""The app in-process against the real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app import create_app
from app.config import Settings
from app.extensions import db


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"environment": "test", "validate_responses": True, **overrides}
    return Settings(**values)


@pytest.fixture
def app_settings(clean_postgres: str, clean_redis: str) -> Settings:
    return make_settings(database_url=clean_postgres, redis_url=clean_redis)


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    app = create_app(app_settings)
    with app.test_client() as test_client:
        yield test_client
    db.engine.dispose()
