"""The Alembic history applies and reverts cleanly, and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from app.common.orm import Base
from app.migrate import alembic_config, downgrade, main, upgrade


def test_the_migrated_postgres_schema_matches_the_models(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_go_down_and_up_again_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    assert {"projects", "tasks"} <= set(inspect(engine).get_table_names())
    downgrade(url, "base")
    assert "projects" not in inspect(engine).get_table_names()
    upgrade(url)
    assert "tasks" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_command_line_migrates_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["upgrade"]) == 0
    engine = create_engine(url)
    # The configured file, not some default, now has every table at the script's head.
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()
    heads = ScriptDirectory.from_config(alembic_config(url)).get_heads()
    assert set(current) == set(heads) and len(heads) == 1
    assert main(["sideways"]) == 2
