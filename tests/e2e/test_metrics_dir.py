"""The Gunicorn master's multiprocess directory: emptied per boot, a dead worker forgotten."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.server import production_env, running_server


def worker_pids(master: int) -> set[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


def test_a_configured_directory_loses_old_samples_and_dead_workers_live_gauges(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_424242.db").write_bytes(b"stale samples of the last boot")
    (directory / "README").write_text("not ours", encoding="utf-8")
    env = {
        **production_env(tmp_path, clean_postgres, clean_redis),
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
    }
    with running_server(env, tmp_path / "server.log", workers=1) as server:
        assert not (directory / "counter_424242.db").exists()
        assert (directory / "README").exists()
        assert httpx.get(f"{server.api}/readyz", timeout=5).status_code == 200
        (old,) = worker_pids(server.process.pid)
        assert list(directory.glob(f"gauge_livesum_{old}.db"))

        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker_pids(server.process.pid) in (set(), {old}):
            time.sleep(0.2)
        assert old not in worker_pids(server.process.pid)
        assert not list(directory.glob(f"gauge_livesum_{old}.db"))
        assert list(directory.glob(f"counter_{old}.db")), "counters of a dead worker stay summed"
