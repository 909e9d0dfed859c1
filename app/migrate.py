"""Alembic migrations, run programmatically so no ``alembic.ini`` has to sit in the tree.

Usage: python -m app.migrate [upgrade|downgrade] [REVISION]   (on DATABASE_URL, or SQLite)"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(url), revision)


def main(argv: list[str]) -> int:
    from app.config import load_settings

    action = argv[0] if argv else "upgrade"
    revision = argv[1] if len(argv) > 1 else None
    url = load_settings().sqlalchemy_url
    if action == "upgrade":
        upgrade(url, revision or "head")
    elif action == "downgrade":
        downgrade(url, revision or "-1")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
