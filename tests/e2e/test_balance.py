"""Keep-alive connections spread across the workers (each worker listens on its own
``SO_REUSEPORT`` socket), measured with ``ss`` from the connections each worker holds."""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter
from pathlib import Path

import httpx

from tests.server import production_env, running_server

# WHY 60: with 20 and at least 3 on each worker, a fair hash still failed 4 runs in 10,000.
CONNECTIONS = 60


def connections_per_worker(port: int) -> Counter[int]:
    listing = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Counter(int(pid) for pid in re.findall(r"pid=(\d+)", listing))


def open_connections(api: str, count: int) -> list[httpx.Client]:
    """``count`` keep-alive connections, opened at the same instant."""
    clients = [httpx.Client(timeout=10) for _ in range(count)]
    barrier = threading.Barrier(count)

    def one(client: httpx.Client) -> None:
        barrier.wait(10)
        assert client.get(f"{api}/livez").status_code == 200

    threads = [threading.Thread(target=one, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return clients


def test_keep_alive_connections_spread_across_the_workers(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = {**production_env(tmp_path, clean_postgres, clean_redis), "REUSE_PORT": "true"}
    with running_server(env, tmp_path / "server.log", workers=2) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        clients = open_connections(server.api, CONNECTIONS)
        try:
            spread = connections_per_worker(port)
        finally:
            for client in clients:
                client.close()
    print(f"connections per worker {sorted(spread.values())}")
    assert sum(spread.values()) == CONNECTIONS
    # WHY: the kernel hashes each connection to a worker's socket; fewer than 10 of 60 on one
    # of two workers has a probability of 3e-8. (One shared socket: 2/18 measured, which
    # this bound, a sixth, still refuses.)
    assert len(spread) == 2 and min(spread.values()) >= 10, spread
