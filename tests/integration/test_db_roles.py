"""scripts/create-db-roles gives the migrations DDL and the app DML only, idempotently."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from app.migrate import upgrade
from app.retention import run
from tests.conftest import ADMIN_URL, empty_database
from tests.integration.test_retention import add_user
from tests.server import ROOT

pytestmark = pytest.mark.postgres


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_roles(database: str, migrator: str, app: str) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "create-db-roles"), libpq(ADMIN_URL), database, migrator, app],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def role_urls() -> Iterator[tuple[str, str]]:
    """A database of its own with the two roles: (migrator URL, app URL); all dropped after."""
    suffix = uuid.uuid4().hex[:8]
    migrator, app = f"test_migrator_{suffix}", f"test_app_{suffix}"
    try:
        with empty_database("app_roles") as url:
            database = make_url(url).database
            assert database
            create_roles(database, migrator, app)
            create_roles(database, migrator, app)  # idempotent
            base = make_url(url)
            yield (
                base.set(username=migrator).render_as_string(hide_password=False),
                base.set(username=app).render_as_string(hide_password=False),
            )
    finally:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for role in (app, migrator):
                connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_the_app_role_reads_and_writes_rows_but_cannot_change_the_schema(
    role_urls: tuple[str, str],
) -> None:
    migrator_url, app_url = role_urls
    upgrade(migrator_url)
    engine = create_engine(app_url)
    try:
        add_user(engine, disabled_days_ago=400)
        for ddl in (
            "CREATE TABLE intruder (id int)",
            "DROP TABLE users",
            "ALTER TABLE users ADD x int",
        ):
            with pytest.raises(ProgrammingError), engine.begin() as connection:
                connection.execute(text(ddl))
    finally:
        engine.dispose()
    purged = {o.kind: o.purged for o in run(app_url, environ={})}
    assert purged["disabled-users"] == 1  # retention needs DML alone


def test_the_migrations_cannot_run_as_the_app_role(role_urls: tuple[str, str]) -> None:
    _, app_url = role_urls
    with pytest.raises(ProgrammingError, match="permission denied"):
        upgrade(app_url)
