"""Start the service exactly as the README does (Gunicorn + docker/gunicorn.conf.py) for a test."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v1"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def production_env(tmp_path: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """The environment of a production start: fresh keys, PostgreSQL and Redis."""
    from runtime.auth import KeyRing

    keys = tmp_path / "jwt-keys.json"
    KeyRing.generate(keys)
    return {
        "JWT_KEYS_FILE": str(keys),
        "IDEMPOTENCY_FINGERPRINT_KEY": secrets.token_urlsafe(32),
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "OPENAPI_SPEC": str(ROOT / "openapi.yaml"),
    }


@contextmanager
def running_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 2,
    ready_timeout_s: float = 30,
    port: int | None = None,
) -> Iterator[Server]:
    """Gunicorn in its own process group, stopped with SIGTERM (and killed if it lingers)."""
    port = port or free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        **env,
    }
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", "docker/gunicorn.conf.py"],
            cwd=ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_live(server, ready_timeout_s)
        yield server
    finally:
        stop(process)


def wait_until_live(server: Server, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Gunicorn exited with {server.process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.api}/livez", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"Gunicorn was not live within {timeout_s} s:\n{server.log()}")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
