"""``/metrics``: who may scrape it, and what the traffic metrics count."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app import create_app
from app.config import ROOT
from runtime.testing import AppClients
from tests.integration.conftest import PASSWORD, make_settings

API = "/api/v1"
LOOPBACK = ("127.0.0.1", 40000)
ELSEWHERE = ("192.0.2.7", 40000)
MONITORING = ROOT / "deploy" / "monitoring"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition, 0 when the series does not exist yet."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


@pytest.fixture
def serve(
    clean_postgres: str, clean_redis: str, key_ring_file: Path
) -> Iterator[Callable[..., TestClient]]:
    with AppClients() as apps:

        def client_for(peer: tuple[str, int] = LOOPBACK, **overrides: object) -> TestClient:
            settings = make_settings(
                database_url=clean_postgres,
                redis_url=clean_redis,
                jwt_keys_file=key_ring_file,
                **overrides,
            )
            return apps.client(create_app(settings), client=peer)

        yield client_for


def test_metrics_are_served_to_loopback_and_refused_elsewhere(
    serve: Callable[..., TestClient],
) -> None:
    allowed = serve(LOOPBACK).get(f"{API}/metrics")
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain; version=")
    assert "build_info{" in allowed.text

    refused = serve(ELSEWHERE).get(f"{API}/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/forbidden")
    assert "http_requests_total" not in refused.text


def test_a_configured_network_replaces_loopback(serve: Callable[..., TestClient]) -> None:
    assert serve(LOOPBACK, metrics_allow=["10.0.0.0/8"]).get(f"{API}/metrics").status_code == 403
    assert serve(("10.1.2.3", 1), metrics_allow=["10.0.0.0/8"]).get(f"{API}/metrics").is_success


def test_the_metrics_token_opens_the_endpoint_from_anywhere(
    serve: Callable[..., TestClient],
) -> None:
    client = serve(ELSEWHERE, metrics_token="s3cret-scrape")
    assert client.get(
        f"{API}/metrics", headers={"Authorization": "Bearer s3cret-scrape"}
    ).is_success
    wrong = client.get(f"{API}/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Bearer"
    missing = client.get(f"{API}/metrics")
    assert missing.status_code == 401


def test_a_wrong_token_is_refused_even_from_an_allowed_address(
    serve: Callable[..., TestClient],
) -> None:
    client = serve(LOOPBACK, metrics_token="s3cret-scrape")
    assert client.get(f"{API}/metrics", headers={"Authorization": "Bearer x"}).status_code == 401
    assert client.get(f"{API}/metrics").is_success


def test_requests_are_counted_by_operation_and_scrapes_are_not(
    serve: Callable[..., TestClient],
) -> None:
    client = serve()
    before = client.get(f"{API}/metrics").text
    for _ in range(3):
        assert client.get(f"{API}/livez").status_code == 200
    for path in ("/wp-admin.php", f"{API}/no/such/{uuid.uuid4()}"):
        assert client.get(path).status_code == 404
    after = client.get(f"{API}/metrics").text

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    ok = {"operation": "getLiveness", "method": "GET"}
    assert delta("http_requests_total", **ok, status="200") == 3
    assert delta("http_request_duration_seconds_count", **ok) == 3
    assert delta("http_request_duration_seconds_bucket", **ok, le="10.0") == 3
    assert delta("http_requests_total", operation="unknown", method="GET", status="404") == 2
    assert delta("http_requests_total", operation="getMetrics") == 0
    assert "/wp-admin.php" not in after
    assert (
        delta("http_problem_responses_total", type="https://problems.contract-first.dev/not-found")
        == 2
    )


def test_auth_failures_and_logins_are_counted(serve: Callable[..., TestClient]) -> None:
    client = serve()
    before = client.get(f"{API}/metrics").text
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    assert client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD}
    ).is_success
    assert client.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD}).is_success
    bad = {"email": email, "password": "wrong password, long enough"}
    assert client.post(f"{API}/auth/token", json=bad).status_code == 401
    assert client.get(f"{API}/projects").status_code == 401
    garbage = {"Authorization": "Bearer not-a-jwt"}
    assert client.get(f"{API}/projects", headers=garbage).status_code == 401
    after = client.get(f"{API}/metrics").text

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("auth_login_attempts_total", result="success") == 1
    assert delta("auth_login_attempts_total", result="failure") == 1
    assert delta("auth_failures_total", reason="missing_token") == 1
    assert delta("auth_failures_total", reason="malformed") == 1
    assert sample(after, "db_pool_max_connections") == 10 + 5


def test_metrics_off_is_a_404_problem(serve: Callable[..., TestClient]) -> None:
    response = serve(metrics_enabled=False).get(f"{API}/metrics")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (selectors, not functions or labels)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    words = re.findall(r"(?<![\w:.])[a-zA-Z_:][\w:]*\b(?!\s*\()", expr)
    return {w for w in words if w not in {"and", "or", "unless"}}


def test_every_metric_the_rules_and_dashboard_read_is_exported(
    serve: Callable[..., TestClient],
) -> None:
    groups = yaml.safe_load((MONITORING / "prometheus-rules.yml").read_text("utf-8"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    recorded = {rule["record"] for rule in rules if "record" in rule}
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text("utf-8"))
    exprs = [rule["expr"] for rule in rules] + [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    used = set().union(*(metric_names(expr) for expr in exprs)) - recorded - {"up"}

    exposition = serve().get(f"{API}/metrics").text
    exported = set()
    for kind, name, rest in re.findall(r"^# (HELP|TYPE) (\S+) ?(\S*)", exposition, re.M):
        exported.add(name)
        if kind == "TYPE" and rest == "histogram":
            exported |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    assert {"http_requests_total", "db_pool_waits_total", "service_cpu_limit_cores"} <= used
    assert sorted(used - exported) == []


def test_other_methods_are_405_before_any_access_check(serve: Callable[..., TestClient]) -> None:
    response = serve(ELSEWHERE, metrics_token="s3cret-scrape").post(f"{API}/metrics")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_an_api_token_does_not_matter_without_a_metrics_token(
    serve: Callable[..., TestClient],
) -> None:
    api_token = {"Authorization": "Bearer some.api.jwt"}
    assert serve(LOOPBACK).get(f"{API}/metrics", headers=api_token).is_success
    assert serve(ELSEWHERE).get(f"{API}/metrics", headers=api_token).status_code == 403
