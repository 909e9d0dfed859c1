"""Alembic environment: online migrations only, one at a time per database."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from app.migrate import load_models

metadata = load_models()

# WHY: two instances starting together must not both migrate; PostgreSQL serialises them on
# an advisory lock (any constant works, it only has to be the same in every process).
MIGRATION_LOCK = 727_001


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


# A caller's own connection (app.migrate.downgrade_losses rehearses a downgrade inside a
# transaction it then rolls back): no lock, no commit here.
given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        try:
            run(connection)
        finally:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                connection.commit()
    engine.dispose()
