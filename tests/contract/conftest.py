"""The service as the README runs it: Gunicorn + docker/gunicorn.conf.py, PostgreSQL, Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import ROOT, Server, running_server

REPORTS = ROOT / "reports" / "contract"


@pytest.fixture
def reports_dir() -> Path:
    """Where the contract suite leaves its JUnit report and server logs (gitignored)."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    return REPORTS


@pytest.fixture
def contract_server(
    clean_postgres: str, clean_redis: str, reports_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """Gunicorn on a fresh migrated database and a flushed Redis db, validating its responses."""
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": clean_postgres,
        "REDIS_URL": clean_redis,
        "VALIDATE_RESPONSES": "true",
    }
    log_path = reports_dir / f"gunicorn-{request.node.name}.log"
    with running_server(env, log_path) as server:
        yield server
