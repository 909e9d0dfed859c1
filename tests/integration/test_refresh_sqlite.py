"""Refresh-token reuse on the development default, SQLite, where writers lock the database."""

from __future__ import annotations

from pathlib import Path

from app import create_app
from app.migrate import upgrade
from runtime.testing import app_client
from tests.integration.conftest import API, make_settings, register_and_login


def test_reusing_a_refresh_token_revokes_its_family_on_sqlite_too(
    tmp_path: Path, key_ring_file: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    # Strict reuse detection: a replay at once is reuse, not a second tab of the same client.
    settings = make_settings(
        database_url=url, jwt_keys_file=key_ring_file, rate_limits=False, refresh_reuse_grace_s=0
    )
    with app_client(create_app(settings)) as client:
        first = register_and_login(client)["refresh_token"]
        second = client.post(f"{API}/auth/refresh", json={"refresh_token": first})
        assert second.status_code == 200
        reused = client.post(f"{API}/auth/refresh", json={"refresh_token": first})
        assert reused.status_code == 401
        newest = second.json()["refresh_token"]
        assert client.post(f"{API}/auth/refresh", json={"refresh_token": newest}).status_code == 401
