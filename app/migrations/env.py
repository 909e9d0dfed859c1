"""Alembic environment: online migrations only, one at a time per database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from app.migrate import load_models

metadata = load_models()

# WHY: two instances starting together must not both migrate; PostgreSQL serialises them on
# an advisory lock (any constant works, it only has to be the same in every process).
MIGRATION_LOCK = 727_001

url = context.config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is not set"
engine = create_engine(url, poolclass=pool.NullPool)

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
engine.dispose()
