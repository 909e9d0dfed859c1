"""Twenty simultaneous retries of one create, across two Gunicorn workers on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.e2e.test_flow import login
from tests.server import running_server

RETRIES = 20


def test_twenty_concurrent_requests_with_one_key_make_exactly_one_write(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = {"ENVIRONMENT": "test", "DATABASE_URL": clean_postgres, "REDIS_URL": clean_redis}
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        headers = {**login(server.api), "Idempotency-Key": str(uuid.uuid4())}
        start = threading.Barrier(RETRIES)

        def send(_: int) -> httpx.Response:
            with httpx.Client(base_url=server.api, timeout=30, headers=headers) as http:
                start.wait(timeout=30)
                return http.post("/projects", json={"name": "Exactly once"})

        with ThreadPoolExecutor(RETRIES) as pool:
            responses = list(pool.map(send, range(RETRIES)))
        final = httpx.post(
            f"{server.api}/projects", json={"name": "Exactly once"}, headers=headers, timeout=30
        )

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    first = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    assert len(first) == 1, statuses
    replays = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    assert all(r.content == first[0].content for r in replays)
    assert all(r.headers["retry-after"] for r in responses if r.status_code == 409)
    assert len(first) + len(replays) + statuses.count(409) == RETRIES
    assert final.status_code == 201 and final.content == first[0].content
    engine = create_engine(clean_postgres)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id FROM projects")).scalars().all()
    engine.dispose()
    assert [str(r) for r in rows] == [first[0].json()["id"]]
