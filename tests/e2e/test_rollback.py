"""The rollback simulation: two releases against one PostgreSQL database of the test's own.
Deploy N, deploy N+1 (one more migration, which then holds data), roll back: refused without
--force, planned by --dry-run, done with --force; release N then passes the smoke test."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from app.migrate import heads
from tests.conftest import empty_database
from tests.server import ROOT, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]

NEXT_MIGRATION = '''"""release N+1: release notes, and a nickname per user.

Revision ID: {revision}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("release_notes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("body", sa.Text(), nullable=False))
    op.add_column("users", sa.Column("nickname", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "nickname")
    op.drop_table("release_notes")
'''


def next_release(tmp_path: Path) -> tuple[Path, str]:
    """A copy of this tree with one more migration: release N+1's code, and its head."""
    tree = tmp_path / "release-n1"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("app", "runtime", "codegen", "docker"):
        shutil.copytree(ROOT / part, tree / part, ignore=ignore)
    shutil.copy(ROOT / "openapi.yaml", tree / "openapi.yaml")
    [down] = heads()
    revision = f"{int(down) + 1:04d}"
    versions = tree / "app" / "migrations" / "versions"
    (versions / f"{revision}_release_notes.py").write_text(
        NEXT_MIGRATION.format(revision=revision, down=down)
    )
    return tree, revision


def release_env(code: Path, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(code),
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "MIGRATE": f"{sys.executable} -m app.migrate",
        # WHY: Gunicorn puts its working directory first on sys.path: the release's own tree.
        "GUNICORN_CMD_ARGS": f"--chdir {code}",
    }


def sh(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # WHY: `python -m` puts the working directory first on sys.path: run in the release's tree.
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, cwd=env["PYTHONPATH"]
    )


def deploy_and_smoke(env: dict[str, str], log: Path) -> None:
    migrated = sh([sys.executable, "-m", "app.migrate", "upgrade", "head"], env)
    assert migrated.returncode == 0, migrated.stderr
    with running_server(env, log) as server:
        smoke = sh([str(ROOT / "scripts" / "smoke.sh"), server.base_url], env)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr + server.log()


def current(env: dict[str, str]) -> str:
    return sh([sys.executable, "-m", "app.migrate", "current"], env).stdout.strip()


def test_deploy_n_then_n1_then_roll_back_to_n(tmp_path: Path, clean_redis: str) -> None:
    rollback = str(ROOT / "scripts" / "rollback.sh")
    [head_n] = heads()
    tree_n1, head_n1 = next_release(tmp_path)
    with empty_database("app_rollback") as database_url:
        release_n = release_env(ROOT, database_url, clean_redis)
        release_n1 = release_env(tree_n1, database_url, clean_redis)

        deploy_and_smoke(release_n, tmp_path / "n.log")  # 1. release N
        assert current(release_n) == head_n
        deploy_and_smoke(release_n1, tmp_path / "n1.log")  # 2. release N+1, one migration more
        assert current(release_n1) == head_n1
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO release_notes (body) VALUES ('written by N+1')"))

        refused = sh([rollback, "--to-head", head_n], release_n1)  # 3. data would be lost
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "release_notes: 1 rows" in refused.stdout
        assert current(release_n1) == head_n1

        planned = sh([rollback, "--dry-run", "--force", "--to-head", head_n], release_n1)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert f"would run: {sys.executable} -m app.migrate downgrade {head_n}" in planned.stdout
        assert current(release_n1) == head_n1

        done = sh([rollback, "--force", "--to-head", head_n], release_n1)  # 4. roll back
        assert done.returncode == 0, done.stdout + done.stderr
        assert current(release_n) == head_n
        tables = inspect(engine)
        assert "release_notes" not in tables.get_table_names()
        assert "nickname" not in {c["name"] for c in tables.get_columns("users")}
        engine.dispose()

        with running_server(release_n, tmp_path / "n-again.log") as server:  # 5. N serves
            smoke = sh([str(ROOT / "scripts" / "smoke.sh"), server.base_url], release_n)
            assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        again = sh([rollback, "--to-head", head_n], release_n)
        assert again.returncode == 0 and "already at" in again.stdout
