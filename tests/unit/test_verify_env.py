from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runtime.auth import KeyRing

ROOT = Path(__file__).resolve().parents[2]


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/verify_env.py", *args],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_production_environment_lists_every_problem_and_exits_1() -> None:
    result = run({"ENVIRONMENT": "production", "DATABASE_URL": "sqlite:///x.db"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "- DATABASE_URL points at SQLite; production needs PostgreSQL." in lines
    assert "- REDIS_URL is missing; production needs Redis." in lines
    assert "- JWT_KEYS_FILE is missing; production needs a mounted key ring." in lines
    assert any(line.startswith("- IDEMPOTENCY_FINGERPRINT_KEY is missing") for line in lines)


def test_a_complete_production_environment_from_a_file_is_valid(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    KeyRing.generate(keys)
    env_file = tmp_path / "prod.env"
    env_file.write_text(
        "# production\nENVIRONMENT=production\nDATABASE_URL=postgresql+psycopg2://db/app\n"
        f"REDIS_URL=redis://cache:6379/0\nJWT_KEYS_FILE={keys}\n"
        f"IDEMPOTENCY_FINGERPRINT_KEY={'k' * 32}\n"
    )
    result = run({}, "--env-file", str(env_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The environment is valid." in result.stdout


def test_an_unreadable_key_ring_is_a_problem(tmp_path: Path) -> None:
    broken = tmp_path / "keys.json"
    broken.write_text("{}")
    result = run({"JWT_KEYS_FILE": str(broken)})
    assert result.returncode == 1
    assert result.stdout.startswith("- JWT_KEYS_FILE: ")
