"""The container's command (Gunicorn + docker/gunicorn.conf.py) in production mode."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.e2e.test_flow import login
from tests.server import GUNICORN, ROOT, production_env, running_server


def test_production_serves_on_postgres_and_redis_without_swagger_ui(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = production_env(tmp_path, clean_postgres, clean_redis)
    with running_server(env, tmp_path / "server.log") as server:
        assert httpx.get(f"{server.api}/readyz", timeout=5).status_code == 200
        assert httpx.get(f"{server.api}/ui/", timeout=5).status_code == 404
        created = httpx.post(
            f"{server.api}/projects", json={"name": "Prod"}, headers=login(server.api), timeout=5
        )
        assert created.status_code == 201


def test_production_refuses_to_start_on_sqlite_naming_the_setting(tmp_path: Path) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "JWT_", "IDEMPOTENCY_"))
        },
        "ENVIRONMENT": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run(
        [str(GUNICORN), "-c", "docker/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "DATABASE_URL points at SQLite" in output
    assert "REDIS_URL is missing" in output
    assert "JWT_KEYS_FILE is missing" in output
    assert "IDEMPOTENCY_FINGERPRINT_KEY is missing" in output
    assert "Traceback" not in output
