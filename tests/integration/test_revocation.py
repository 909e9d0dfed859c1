"""Revocations live in PostgreSQL; Redis only caches them. Each test has its own redis-server,
so it can flush, stop and restart it without touching the shared one."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from app.config import Settings
from runtime.auth import Denylist
from tests.conftest import unavailable
from tests.integration.conftest import (
    API,
    PASSWORD,
    age_uses,
    make_settings,
    register_and_login,
)
from tests.server import free_port


@dataclass
class OwnRedis:
    """A throw-away redis-server without persistence: a restart loses everything."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server", FileNotFoundError("redis-server is not on PATH"))
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_settings(clean_postgres: str, own_redis: OwnRedis, key_ring_file: Path) -> Settings:
    return make_settings(
        database_url=clean_postgres,
        redis_url=own_redis.url,
        jwt_keys_file=key_ring_file,
        redis_retries=0,
        # WHY not short: a stopped server refuses at once, so no test here waits on a timeout;
        # a 0.2 s one fired when a loaded machine kept redis-server from answering, and the
        # check's fallback and reconnect put commands into the counted command statistics.
        redis_socket_timeout_s=5,
        redis_connect_timeout_s=5,
        # WHY: the default per-caller limit counts in the same Redis; these tests count the
        # revocation check's own commands, so the limiter stays out of them.
        rate_limits=False,
    )


def me(client: TestClient, login: dict[str, Any]) -> int:
    return client.get(f"{API}/users/me", headers=login["headers"]).status_code


def logout(client: TestClient, login: dict[str, Any]) -> None:
    response = client.post(
        f"{API}/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=login["headers"],
    )
    assert response.status_code == 204, response.text


def second_login(client: TestClient, login: dict[str, Any]) -> dict[str, Any]:
    pair: dict[str, Any] = client.post(
        f"{API}/auth/token", json={"email": login["email"], "password": PASSWORD}
    ).json()
    pair["headers"] = {"Authorization": f"Bearer {pair['access_token']}"}
    return pair


def test_a_logged_out_token_stays_refused_after_flushall_a_restart_and_an_outage(
    anonymous: TestClient, own_redis: OwnRedis
) -> None:
    login = register_and_login(anonymous)
    other = second_login(anonymous, login)
    assert me(anonymous, login) == 200  # warms the cache
    client = own_redis.client()
    client.config_resetstat()
    for _ in range(5):
        assert me(anonymous, login) == 200
    ignored = {"cmdstat_info", "cmdstat_config|resetstat"}
    stats = client.info("commandstats")
    # A warm check is one round trip: five requests, five MGETs, nothing else.
    assert {n: e["calls"] for n, e in stats.items() if n not in ignored} == {"cmdstat_mget": 5}
    logout(anonymous, login)
    assert me(anonymous, login) == 401
    own_redis.client().flushall()
    assert me(anonymous, login) == 401
    assert me(anonymous, other) == 200
    own_redis.restart()
    assert own_redis.client().dbsize() == 0
    assert me(anonymous, login) == 401
    assert me(anonymous, other) == 200
    # The first check after the restart reloaded the cache from PostgreSQL.
    keys = {key.decode() for key in own_redis.client().keys(f"{Denylist.PREFIX}*")}
    assert Denylist.READY in keys
    assert any(key.startswith(f"{Denylist.PREFIX}jti:") for key in keys)
    assert me(anonymous, login) == 401
    # With Redis down the check asks PostgreSQL.
    own_redis.stop()
    assert me(anonymous, login) == 401
    assert me(anonymous, other) == 200


def test_a_logout_is_not_acknowledged_when_redis_cannot_cache_it(
    anonymous: TestClient, own_redis: OwnRedis
) -> None:
    login = register_and_login(anonymous)
    own_redis.stop()
    response = anonymous.post(
        f"{API}/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=login["headers"],
    )
    assert response.status_code == 503
    own_redis.start()
    assert me(anonymous, login) == 200
    logout(anonymous, login)
    assert me(anonymous, login) == 401


def test_refresh_token_reuse_ends_the_access_tokens_of_that_login_only(
    anonymous: TestClient, own_redis: OwnRedis, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)
    other = second_login(anonymous, login)
    rotated = anonymous.post(f"{API}/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert rotated.status_code == 200
    rotated_headers = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
    age_uses(clean_postgres)
    reused = anonymous.post(f"{API}/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert reused.status_code == 401
    assert me(anonymous, login) == 401
    assert anonymous.get(f"{API}/users/me", headers=rotated_headers).status_code == 401
    assert me(anonymous, other) == 200
    own_redis.client().flushall()
    assert me(anonymous, login) == 401
    assert me(anonymous, other) == 200


def test_disabling_a_user_ends_their_access_tokens_at_once(
    anonymous: TestClient, own_redis: OwnRedis, make_admin: Callable[[str], None]
) -> None:
    victim = register_and_login(anonymous)
    admin = register_and_login(anonymous)
    make_admin(admin["email"])
    admin = second_login(anonymous, admin)
    disabled = anonymous.post(f"{API}/users/{victim['id']}/disable", headers=admin["headers"])
    assert disabled.status_code == 200, disabled.text
    assert me(anonymous, victim) == 401
    own_redis.restart()
    assert me(anonymous, victim) == 401
    own_redis.stop()
    assert me(anonymous, victim) == 401
    assert me(anonymous, admin) == 200


def test_a_password_change_ends_every_access_token_of_the_account(
    anonymous: TestClient, own_redis: OwnRedis
) -> None:
    login = register_and_login(anonymous)
    other = second_login(anonymous, login)
    changed = anonymous.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": "a different long passphrase"},
        headers=login["headers"],
    )
    assert changed.status_code == 200
    assert me(anonymous, login) == 401
    assert me(anonymous, other) == 401
