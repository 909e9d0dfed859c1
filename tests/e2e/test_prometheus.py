"""A real Prometheus scrapes a two-worker Gunicorn: exact counts, then an error alert."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.test_flow import login
from tests.server import ROOT, free_port, production_env, running_server

JOB = "projects-api"
DEAD_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:1/none"
RULES = ROOT / "deploy" / "monitoring" / "prometheus-rules.yml"


@contextmanager
def prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    """Prometheus on a free loopback port, scraping ``target`` every second, with the
    generated rules (``for:`` of ErrorRateHigh shortened to seconds)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing; scripts/install-system-packages installs it")
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "ErrorRateHigh":
                rule["for"] = "3s"
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": "/api/v1/metrics",
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, 30)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.TransportError:
            last = None
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"not true within {timeout_s} s (last: {last!r})")


def query(url: str, promql: str) -> dict[str, float]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()
    assert answer["status"] == "success", answer
    return {
        item["metric"].get("operation", ""): float(item["value"][1])
        for item in answer["data"]["result"]
    }


def test_prometheus_sees_exact_counts_over_both_workers_then_the_error_alert(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = production_env(tmp_path, clean_postgres, clean_redis)
    port = free_port()
    sent = {"register": 1, "createToken": 1, "getJwks": 9, "createProject": 4, "listProjects": 6}
    with prometheus(tmp_path, f"127.0.0.1:{port}") as url:
        with running_server(env, tmp_path / "server.log", workers=2, port=port) as server:
            auth = login(server.api)
            for _ in range(sent["getJwks"]):
                assert httpx.get(f"{server.api}/.well-known/jwks.json", timeout=5).is_success
            for n in range(sent["createProject"]):
                created = httpx.post(
                    f"{server.api}/projects", json={"name": f"p{n}"}, headers=auth, timeout=5
                )
                assert created.status_code == 201
            for _ in range(sent["listProjects"]):
                assert httpx.get(f"{server.api}/projects", headers=auth, timeout=5).is_success
            for _ in range(3):
                assert httpx.get(f"{server.base_url}/.env", timeout=5).status_code == 404

            promql = f'sum by (operation) (http_requests_total{{job="{JOB}"}})'

            def counted() -> dict[str, float] | None:
                totals = query(url, promql)
                wanted = {**sent, "unknown": 3}
                exact = all(totals.get(op) == float(n) for op, n in wanted.items())
                return totals if exact else None

            totals = wait_for(counted, 30)
            assert "getMetrics" not in totals
            assert query(url, f'sum(up{{job="{JOB}"}})') == {"": 1.0}

        # WHY a second Gunicorn on the same port, not a stopped PostgreSQL: the server is
        # shared; a database nobody listens on fails the same way (503 on every query).
        env["DATABASE_URL"] = DEAD_DATABASE
        with running_server(env, tmp_path / "dead-db.log", workers=2, port=port) as server:

            def alerting() -> list[dict[str, Any]]:
                failed = httpx.get(f"{server.api}/projects", headers=auth, timeout=5)
                assert failed.status_code == 503
                answer = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()
                return [
                    alert
                    for alert in answer["data"]["alerts"]
                    if alert["labels"]["alertname"] == "ErrorRateHigh"
                    and alert["labels"].get("operation") == "listProjects"
                ]

            alerts = wait_for(alerting, 60)
            assert alerts[0]["state"] in {"pending", "firing"}
            assert alerts[0]["labels"]["severity"] == "page"
            assert alerts[0]["annotations"]["runbook_url"] == "docs/RUNBOOK.md#errorratehigh"
