"""Whole flows over HTTP against Gunicorn, started as the README starts it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from tests.server import running_server

PASSWORD = "correct horse battery staple"


def login(api: str) -> dict[str, str]:
    """Register a new account over HTTP and return its Authorization header."""
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    assert httpx.post(f"{api}/auth/register", json=credentials, timeout=10).status_code == 201
    pair = httpx.post(f"{api}/auth/token", json=credentials, timeout=10)
    assert pair.status_code == 200, pair.text
    return {"Authorization": f"Bearer {pair.json()['access_token']}"}


def test_the_default_setup_serves_on_sqlite_without_any_configuration(tmp_path: Path) -> None:
    env = {"ENVIRONMENT": "development"}
    with running_server(env, tmp_path / "server.log") as server:
        auth = login(server.api)
        created = httpx.post(
            f"{server.api}/projects", json={"name": "On SQLite"}, headers=auth, timeout=10
        )
        assert created.status_code == 201, created.text
        fetched = httpx.get(
            f"{server.base_url}{created.headers['location']}", headers=auth, timeout=10
        )
        assert fetched.json()["name"] == "On SQLite"
        ready = httpx.get(f"{server.api}/readyz", timeout=10).json()
        assert ready == {"status": "ok", "checks": {"database": "ok", "redis": "skipped"}}
        # It says where it is, from the socket it bound (BIND is a free port here).
        assert f"API at {server.api}/ (OpenAPI document: {server.api}/openapi.json)" in server.log()
        assert f"Swagger UI at {server.api}/ui/" in server.log()


def test_a_reused_refresh_token_ends_the_login_on_sqlite_too(tmp_path: Path) -> None:
    env = {"ENVIRONMENT": "development", "REFRESH_REUSE_GRACE_S": "0"}
    with running_server(env, tmp_path / "server.log") as server:
        email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
        credentials = {"email": email, "password": PASSWORD}
        assert httpx.post(f"{server.api}/auth/register", json=credentials, timeout=10).is_success
        first = httpx.post(f"{server.api}/auth/token", json=credentials, timeout=10).json()
        refresh = f"{server.api}/auth/refresh"
        second = httpx.post(refresh, json={"refresh_token": first["refresh_token"]}, timeout=10)
        assert second.status_code == 200, second.text
        reused = httpx.post(refresh, json={"refresh_token": first["refresh_token"]}, timeout=10)
        assert reused.status_code == 401, reused.text
        # The reuse revoked the whole login: the legitimate newer token is refused as well.
        newer = second.json()["refresh_token"]
        after = httpx.post(refresh, json={"refresh_token": newer}, timeout=10)
        assert after.status_code == 401, after.text
        me = httpx.get(
            f"{server.api}/users/me",
            headers={"Authorization": f"Bearer {second.json()['access_token']}"},
            timeout=10,
        )
        assert me.status_code == 401


def test_a_project_and_task_flow_on_postgres_and_redis(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = {"ENVIRONMENT": "test", "DATABASE_URL": clean_postgres, "REDIS_URL": clean_redis}
    with (
        running_server(env, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.api, timeout=10, headers=login(server.api)) as http,
    ):
        assert http.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
        project = http.post("/projects", json={"name": "Launch"}).json()
        tasks_url = f"/projects/{project['id']}/tasks"
        task = http.post(tasks_url, json={"title": "Write copy"}).json()
        assert task["status"] == "todo"
        for status in ("doing", "done"):
            moved = http.patch(f"{tasks_url}/{task['id']}", json={"status": status})
            assert moved.status_code == 200 and moved.json()["status"] == status
        back = http.patch(f"{tasks_url}/{task['id']}", json={"status": "todo"})
        assert back.status_code == 409
        listed = http.get(tasks_url, params={"status": "done"}).json()
        assert [t["id"] for t in listed["items"]] == [task["id"]]
        traced = http.get(f"/projects/{project['id']}", headers={"X-Request-ID": "e2e-trace-1"})
        assert traced.headers["x-request-id"] == "e2e-trace-1"
        etag = {"If-Match": traced.headers["etag"]}
        assert http.delete(f"/projects/{project['id']}", headers=etag).status_code == 204
        assert http.get(f"/projects/{project['id']}").status_code == 404
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert any(line["request_id"] == "e2e-trace-1" and line["status"] == 200 for line in access)
    assert all("request_id" in line for line in access)
