"""Probes, dependency faults, the Swagger UI and the logs, through the whole stack."""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from app import create_app
from app.config import ROOT
from runtime.errors import TYPE_BASE
from runtime.testing import AppClients, app_client
from tests.integration.conftest import make_settings, token_service

API = "/api/v1"
CLOSED_PORT_PG = "postgresql+psycopg2://postgres@127.0.0.1:1/none"
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def serve(key_ring_file: Path) -> Iterator[Callable[..., TestClient]]:
    with AppClients() as apps:

        def client_for(**overrides: object) -> TestClient:
            settings = make_settings(jwt_keys_file=key_ring_file, **overrides)
            return apps.client(create_app(settings))

        yield client_for


def test_readiness_checks_postgres_and_redis(client: TestClient) -> None:
    response = client.get(f"{API}/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_redis_down_makes_readiness_503_while_liveness_stays_200(
    clean_postgres: str, serve: Callable[..., TestClient]
) -> None:
    with serve(database_url=clean_postgres, redis_url=CLOSED_PORT_REDIS) as client:
        ready = client.get(f"{API}/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"] == "5"
        assert ready.headers["content-type"] == "application/problem+json"
        assert "redis" in ready.json()["detail"]
        assert client.get(f"{API}/livez").status_code == 200


def test_database_down_is_a_fast_503_with_retry_after_and_no_internals(
    serve: Callable[..., TestClient], key_ring_file: Path
) -> None:
    tokens = token_service(make_settings(jwt_keys_file=key_ring_file))
    token = tokens.issue_access_token(str(uuid.uuid4()), ["projects"]).token
    with serve(database_url=CLOSED_PORT_PG, db_connect_timeout_s=1) as client:
        response = client.get(f"{API}/projects", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        # "Fast": the connection's failure answered, not the request's deadline, which is all
        # a wait on the operating system's TCP timeout of minutes could end in.
        # WHY not a stopwatch: on a loaded machine any bound is either loose or flaky.
        assert response.json()["type"] == TYPE_BASE + "service-unavailable"
        assert response.json()["detail"] == "A dependency is unavailable; retry later."
        assert response.headers["retry-after"].isdigit()
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 503
        body = response.text
        assert "psycopg2" not in body and "127.0.0.1:1" not in body and "Traceback" not in body
        assert client.get(f"{API}/readyz").status_code == 503
        assert client.get(f"{API}/livez").status_code == 200


def test_swagger_ui_serves_the_page_and_the_spec_it_loads(client: TestClient) -> None:
    page = client.get(f"{API}/ui/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    spec_url = re.search(r'url: "([^"]+openapi\.json)"', page.text)
    assert spec_url, page.text[:500]
    served = client.get(spec_url.group(1))
    assert served.status_code == 200
    source = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert set(served.json()["paths"]) == set(source["paths"])
    assert client.get(f"{API}/ui/swagger-ui-bundle.js").status_code == 200


def test_production_does_not_serve_the_swagger_ui(
    clean_postgres: str, clean_redis: str, key_ring_file: Path
) -> None:
    settings = make_settings(
        environment="production",
        database_url=clean_postgres,
        redis_url=clean_redis,
        jwt_keys_file=key_ring_file,
        idempotency_fingerprint_key="k" * 32,
    )
    with app_client(create_app(settings)) as client:
        assert client.get(f"{API}/ui/").status_code == 404
        assert client.get(f"{API}/livez").status_code == 200


def log_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines written to stderr since the last call."""
    err = capsys.readouterr().err
    sys.stderr.write(err)  # back into the test's captured stderr, which the secret scan reads
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


def test_every_log_line_of_a_request_carries_its_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    log_lines(capsys)
    client.post(f"{API}/projects", json={"name": ""}, headers={"X-Request-ID": "log-check-1"})
    ours = [line for line in log_lines(capsys) if line["logger"].startswith("runtime")]
    assert {line["event"] for line in ours} >= {"problem", "request"}
    assert all(line["request_id"] == "log-check-1" for line in ours)
