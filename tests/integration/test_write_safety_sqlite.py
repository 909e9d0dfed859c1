"""Idempotency-Key, If-Match and revocation on the development default: SQLite, no Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

from app import create_app
from app.migrate import upgrade
from runtime.testing import app_client
from tests.integration.conftest import API, make_settings, register_and_login


def test_write_safety_holds_on_sqlite_without_redis(tmp_path: Path, key_ring_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    settings = make_settings(database_url=url, jwt_keys_file=key_ring_file, rate_limits=False)
    with app_client(create_app(settings)) as client:
        login = register_and_login(client)
        headers = {**login["headers"], "Idempotency-Key": str(uuid.uuid4())}
        first = client.post(f"{API}/projects", json={"name": "Dev"}, headers=headers)
        retry = client.post(f"{API}/projects", json={"name": "Dev"}, headers=headers)
        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        assert retry.headers["idempotent-replayed"] == "true"
        other = client.post(f"{API}/projects", json={"name": "Other"}, headers=headers)
        assert other.status_code == 422

        url_ = first.headers["location"]
        stale = client.patch(
            url_, json={"name": "x"}, headers={**login["headers"], "If-Match": '"0"'}
        )
        assert stale.status_code == 412
        assert client.get(url_, headers=login["headers"]).json()["name"] == "Dev"

        logout = client.post(
            f"{API}/auth/logout",
            json={"refresh_token": login["refresh_token"]},
            headers=login["headers"],
        )
        assert logout.status_code == 204
        assert client.get(f"{API}/users/me", headers=login["headers"]).status_code == 401
