"""Two Gunicorn instances sharing PostgreSQL and Redis behind nginx (``docker/nginx.conf``): the
state that must be global is, and stopping one instance under load loses no request."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_flow import PASSWORD
from tests.server import ROOT, Server, free_port, production_env, running_server

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Cluster:
    proxy: str
    instances: list[Server]

    @property
    def api(self) -> str:
        return f"{self.proxy}/api/v1"


@contextmanager
def nginx_in_front_of(instances: list[Server], prefix: Path) -> Iterator[str]:
    """nginx in the foreground on a free loopback port, with a temp prefix and no root paths."""
    port = free_port()
    config = (ROOT / "docker" / "nginx.conf").read_text()
    for name, value in (
        ("@PROXY_PORT@", port),
        ("@INSTANCE_A_PORT@", instances[0].base_url.rsplit(":", 1)[1]),
        ("@INSTANCE_B_PORT@", instances[1].base_url.rsplit(":", 1)[1]),
    ):
        config = config.replace(name, str(value))
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "nginx.conf").write_text(config)
    with (prefix / "nginx.log").open("wb") as log:
        process = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{url}/api/v1/livez", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path, clean_postgres: str, clean_redis: str) -> Iterator[Cluster]:
    env = {**production_env(tmp_path, clean_postgres, clean_redis), "SHUTDOWN_DRAIN_S": "2"}
    with ExitStack() as stack:
        instances = [
            stack.enter_context(running_server(env, tmp_path / f"{name}.log", workers=1))
            for name in ("a", "b")
        ]
        proxy = stack.enter_context(nginx_in_front_of(instances, tmp_path / "nginx"))
        yield Cluster(proxy, instances)


def _account(api: str) -> dict[str, str]:
    credentials = {"email": f"two-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    assert httpx.post(f"{api}/auth/register", json=credentials, timeout=10).status_code == 201
    return credentials


def _tokens(api: str, credentials: dict[str, str]) -> dict[str, str]:
    pair = httpx.post(f"{api}/auth/token", json=credentials, timeout=10)
    assert pair.status_code == 200, pair.text
    return dict(pair.json())


def test_rate_limits_hold_across_both_instances(cluster: Cluster) -> None:
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    statuses = []
    for attempt in range(6):  # createToken allows 5 per minute per email
        instance = cluster.instances[attempt % 2]
        response = httpx.post(
            f"{instance.api}/auth/token", json={"email": email, "password": "wrong" * 3}, timeout=10
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429], statuses


def test_a_logout_on_one_instance_is_honoured_by_the_other(cluster: Cluster) -> None:
    a, b = cluster.instances
    tokens = _tokens(a.api, _account(a.api))
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(f"{b.api}/users/me", headers=headers, timeout=10).status_code == 200
    logout = httpx.post(
        f"{a.api}/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers=headers,
        timeout=10,
    )
    assert logout.status_code == 204, logout.text
    assert httpx.get(f"{b.api}/users/me", headers=headers, timeout=10).status_code == 401


def test_concurrent_refreshes_of_one_token_across_instances_have_one_winner(
    cluster: Cluster,
) -> None:
    a = cluster.instances[0]
    token = _tokens(a.api, _account(a.api))["refresh_token"]
    barrier = threading.Barrier(20)

    def attempt(index: int) -> int:
        instance = cluster.instances[index % 2]
        with httpx.Client(timeout=15) as client:
            barrier.wait(10)
            return client.post(
                f"{instance.api}/auth/refresh", json={"refresh_token": token}
            ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401, 400}, statuses


def test_stopping_one_instance_under_load_loses_no_request(cluster: Cluster) -> None:
    # WHY: one account per client, each under the default limit of 120 requests a minute per
    # caller, so every answer is the service's own work, never a 429.
    callers = [
        {"Authorization": f"Bearer {_tokens(cluster.api, _account(cluster.api))['access_token']}"}
        for _ in range(4)
    ]
    results: list[int | str] = []
    stop = threading.Event()

    def client(headers: dict[str, str]) -> None:
        with httpx.Client(headers=headers, timeout=15) as session:
            for _ in range(100):
                if stop.is_set():
                    return
                try:
                    if len(results) % 2:
                        status = session.get(f"{cluster.api}/projects").status_code
                    else:
                        name = f"two-{uuid.uuid4().hex}"
                        status = session.post(
                            f"{cluster.api}/projects", json={"name": name}
                        ).status_code
                except httpx.TransportError as exc:
                    results.append(type(exc).__name__)
                else:
                    results.append(status)
                # WHY 50 ms: 100 requests a client then outlast the stop and its 2 s drain, so
                # answers keep coming after the victim exited.
                time.sleep(0.05)

    def answered(count: int) -> None:
        """Wait (a minute at most) until ``count`` requests were answered in all."""
        deadline = time.monotonic() + 60
        while len(results) < count:
            assert time.monotonic() < deadline, f"only {len(results)} of {count} answered"
            assert any(thread.is_alive() for thread in threads), "the clients stopped early"
            time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(headers,)) for headers in callers]
    for thread in threads:
        thread.start()
    try:
        # WHY counts, not pauses: the load must be flowing when the instance stops, and go on
        # through the survivor afterwards, however slow a loaded machine makes each request.
        answered(20)
        victim = cluster.instances[0].process
        victim.send_signal(signal.SIGTERM)
        assert victim.wait(30) == 0
        answered(len(results) + 20)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
    assert set(results) <= {200, 201}, sorted(set(map(str, results)))
