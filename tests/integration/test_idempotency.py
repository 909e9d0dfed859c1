"""Idempotency-Key on PostgreSQL: replay, reuse, in flight, scope, expiry, and a crash."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import flask
import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from app.wiring import extensions
from runtime.idempotency import lock_id
from tests.integration.conftest import API, PASSWORD, register_and_login

PROBLEM = "application/problem+json"


def count(url: str, table: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return int(total)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_a_retried_create_replays_the_first_answer_byte_for_byte(
    client: TestClient, clean_postgres: str
) -> None:
    headers = key()
    first = client.post(f"{API}/projects", json={"name": "Once"}, headers=headers)
    retry = client.post(f"{API}/projects", json={"name": "Once"}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    for name in ("location", "etag", "content-type"):
        assert retry.headers[name] == first.headers[name]
    # Re-serialised (other key order and spacing), it is still the same request.
    again = client.post(
        f"{API}/projects",
        content=b'{ "name" :"Once" }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 201 and again.content == first.content
    assert count(clean_postgres, "projects") == 1


def test_the_same_key_with_another_body_is_a_422_and_writes_nothing(
    client: TestClient, clean_postgres: str
) -> None:
    headers = key()
    assert client.post(f"{API}/projects", json={"name": "A"}, headers=headers).status_code == 201
    reused = client.post(f"{API}/projects", json={"name": "B"}, headers=headers)
    assert reused.status_code == 422
    assert reused.headers["content-type"] == PROBLEM
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    assert count(clean_postgres, "projects") == 1
    # The path is part of the request: one key cannot create tasks in two projects.
    one, two = (client.post(f"{API}/projects", json={"name": n}).json()["id"] for n in "12")
    task = {"title": "t"}
    assert client.post(f"{API}/projects/{one}/tasks", json=task, headers=headers).status_code == 201
    other = client.post(f"{API}/projects/{two}/tasks", json=task, headers=headers)
    assert other.status_code == 422


def test_keys_are_scoped_to_the_caller_and_the_operation(
    client: TestClient, other_headers: dict[str, str], clean_postgres: str
) -> None:
    headers = key()
    mine = client.post(f"{API}/projects", json={"name": "Same"}, headers=headers)
    theirs = client.post(
        f"{API}/projects", json={"name": "Same"}, headers={**other_headers, **headers}
    )
    assert theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]
    task = client.post(
        f"{API}/projects/{mine.json()['id']}/tasks", json={"title": "t"}, headers=headers
    )
    assert task.status_code == 201 and "idempotent-replayed" not in task.headers
    assert count(clean_postgres, "idempotency_keys") == 3


def test_an_unusable_key_is_a_400_problem(client: TestClient, clean_postgres: str) -> None:
    for value in ("x" * 256, "a\tb", "caf\u00e9".encode("latin-1")):
        response = client.post(
            f"{API}/projects", json={"name": "A"}, headers={"Idempotency-Key": value}
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
        pointers = [e["pointer"].lower() for e in response.json()["errors"]]
        assert any("idempotency-key" in p for p in pointers), pointers
    assert count(clean_postgres, "projects") == 0


@pytest.fixture
def key_required(client: TestClient) -> Iterator[None]:
    idempotency = extensions(client.app.app).idempotency  # type: ignore[attr-defined]
    policies = idempotency.policies
    idempotency.policies = {
        **policies,
        "createProject": {**policies["createProject"], "idempotency_key": "required"},
    }
    yield
    idempotency.policies = policies


def test_a_missing_key_is_a_400_where_the_policy_requires_one(
    client: TestClient, key_required: None, clean_postgres: str
) -> None:
    response = client.post(f"{API}/projects", json={"name": "A"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/header/Idempotency-Key"
    assert client.post(f"{API}/projects", json={"name": "A"}, headers=key()).status_code == 201
    assert count(clean_postgres, "projects") == 1


def test_a_retry_while_the_first_runs_is_a_409_with_retry_after(
    anonymous: TestClient, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)
    headers = {**login["headers"], **key()}
    # WHY: holding the key's advisory lock from another session is exactly what a first
    # request still inside its transaction does.
    engine = create_engine(clean_postgres)
    with engine.connect() as holder:
        lock = lock_id(f"sub:{login['id']}", "createProject", headers["Idempotency-Key"])
        assert holder.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock}).scalar()
        busy = anonymous.post(f"{API}/projects", json={"name": "A"}, headers=headers)
        holder.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock})
    engine.dispose()
    assert busy.status_code == 409
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["type"].endswith("/idempotency-key-in-flight")
    assert count(clean_postgres, "projects") == 0
    done = anonymous.post(f"{API}/projects", json={"name": "A"}, headers=headers)
    assert done.status_code == 201


def test_an_error_answer_is_not_stored_so_the_key_stays_usable(
    client: TestClient, clean_postgres: str
) -> None:
    headers = key()
    missing = client.post(
        f"{API}/projects/{uuid.uuid4()}/tasks", json={"title": "t"}, headers=headers
    )
    assert missing.status_code == 404
    assert count(clean_postgres, "idempotency_keys") == 0


def test_a_key_expires_after_the_ttl_and_then_starts_afresh(
    client: TestClient, clean_postgres: str
) -> None:
    headers = key()
    first = client.post(f"{API}/projects", json={"name": "A"}, headers=headers).json()
    engine = create_engine(clean_postgres)
    with engine.begin() as connection:
        lifetime = connection.execute(
            text("SELECT extract(epoch FROM expires_at - created_at) FROM idempotency_keys")
        ).scalar_one()
        ttl_s = extensions(client.app.app).idempotency.ttl_s  # type: ignore[attr-defined]
        assert float(lifetime) == ttl_s == 24 * 3600
        connection.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'"))
    engine.dispose()
    again = client.post(f"{API}/projects", json={"name": "B"}, headers=headers)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert count(clean_postgres, "idempotency_keys") == 1


def test_a_crash_after_the_commit_replays_the_committed_write(
    anonymous: TestClient, clean_postgres: str
) -> None:
    headers = {**register_and_login(anonymous)["headers"], **key()}
    flask_app = anonymous.app.app  # type: ignore[attr-defined]
    crashes = [RuntimeError("worker died before the answer left")]

    def crash(response: flask.Response) -> flask.Response:
        if crashes:
            raise crashes.pop()
        return response

    # WHY: first in the list is last to run, after the commit: the write is durable, the
    # client never hears of it.
    flask_app.after_request_funcs.setdefault(None, []).insert(0, crash)
    lost = anonymous.post(f"{API}/projects", json={"name": "Crash"}, headers=headers)
    assert lost.status_code == 500
    assert count(clean_postgres, "projects") == 1
    retry = anonymous.post(f"{API}/projects", json={"name": "Crash"}, headers=headers)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    engine = create_engine(clean_postgres)
    with engine.connect() as connection:
        stored_id = connection.execute(text("SELECT id FROM projects")).scalar_one()
    engine.dispose()
    assert retry.json()["id"] == str(stored_id)
    assert count(clean_postgres, "projects") == 1


def test_register_is_idempotent_without_a_token(anonymous: TestClient, clean_postgres: str) -> None:
    body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    headers = key()
    first = anonymous.post(f"{API}/auth/register", json=body, headers=headers)
    retry = anonymous.post(f"{API}/auth/register", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert count(clean_postgres, "users") == 1
    engine = create_engine(clean_postgres)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT fingerprint, body FROM idempotency_keys")).one()
    engine.dispose()
    assert PASSWORD.encode() not in bytes(stored.body)


def test_a_replay_never_answers_a_revoked_token(anonymous: TestClient) -> None:
    login = register_and_login(anonymous)
    headers = {**login["headers"], **key()}
    assert anonymous.post(f"{API}/projects", json={"name": "A"}, headers=headers).status_code == 201
    logout = anonymous.post(
        f"{API}/auth/logout", json={"refresh_token": login["refresh_token"]}, headers=headers
    )
    assert logout.status_code == 204
    replay = anonymous.post(f"{API}/projects", json={"name": "A"}, headers=headers)
    assert replay.status_code == 401
