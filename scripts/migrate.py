"""Apply the Alembic migrations to the configured database (``DATABASE_URL`` or SQLite).

Usage: python scripts/migrate.py [upgrade|downgrade] [REVISION]"""

from __future__ import annotations

import sys

from app.config import load_settings
from app.migrate import downgrade, upgrade


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "upgrade"
    settings = load_settings()
    if action == "upgrade":
        upgrade(settings.sqlalchemy_url, argv[1] if len(argv) > 1 else "head")
    elif action == "downgrade":
        downgrade(settings.sqlalchemy_url, argv[1] if len(argv) > 1 else "-1")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
