"""Data retention: purge what the service no longer needs, one rule per kind of record.

Usage: python -m app.retention [--dry-run] [--only KIND ...]   (on DATABASE_URL; also the CronJob)

Each rule keeps its records for ``RETENTION_<KIND>_DAYS`` days (``0`` turns the rule off) and
deletes in bounded batches, so a large backlog never holds long locks."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    create_engine,
    delete,
    func,
    or_,
    select,
    tuple_,
)

from app.migrate import load_models

log = structlog.get_logger("app.retention")
BATCH = 500

Where = Callable[[Table, datetime], ColumnElement[bool]]


def older_than(column: str) -> Where:
    """Records whose ``column`` is before the cutoff."""
    return lambda table, cutoff: table.c[column] < cutoff


@dataclass(frozen=True)
class PurgeRule:
    """Delete the rows of ``table`` matching ``where`` once they are ``days`` old."""

    kind: str
    table: str
    where: Where
    default_days: int
    description: str

    @property
    def setting(self) -> str:
        return f"RETENTION_{self.kind.upper().replace('-', '_')}_DAYS"

    def days(self, environ: dict[str, str]) -> int:
        value = environ.get(self.setting, str(self.default_days))
        try:
            days = int(value)
        except ValueError:
            raise SystemExit(
                f"{self.setting} must be a whole number of days, not {value!r}"
            ) from None
        if days < 0:
            raise SystemExit(f"{self.setting} must be 0 (off) or more, not {days}")
        return days


def _disabled_users(table: Table, cutoff: datetime) -> ColumnElement[bool]:
    # WHY: users have no disabled_at column; updated_at is the time of the last change, which a
    # disabled user cannot make, so it is at or after the disabling: the rule can only be late.
    return and_(
        table.c.is_disabled.is_(True),
        table.c.updated_at < cutoff,
    )


def _finished_families(table: Table, cutoff: datetime) -> ColumnElement[bool]:
    return or_(table.c.expires_at < cutoff, table.c.revoked_at < cutoff)


# One entry per kind of record. Refresh tokens go with their family (ON DELETE CASCADE); a
# user's projects, tasks and logins go with the user.
RULES: tuple[PurgeRule, ...] = (
    PurgeRule(
        "refresh-families",
        "refresh_families",
        _finished_families,
        default_days=30,
        description="logins expired or revoked this many days ago, with their refresh tokens",
    ),
    PurgeRule(
        "disabled-users",
        "users",
        _disabled_users,
        default_days=365,
        description="users disabled this many days ago, erased with their projects and tasks",
    ),
    PurgeRule(
        "idempotency-records",
        "idempotency_keys",
        older_than("expires_at"),
        default_days=1,
        description="stored Idempotency-Key answers this many days past their expiry "
        "(IDEMPOTENCY_TTL_S); an expired record is never replayed",
    ),
    PurgeRule(
        "revoked-access-tokens",
        "revoked_access_tokens",
        older_than("expires_at"),
        default_days=1,
        description="logged-out access tokens this many days past their own expiry, when no "
        "check needs them any more",
    ),
)


@dataclass(frozen=True)
class Outcome:
    kind: str
    days: int
    matched: int
    purged: int


def _purge(
    connection: Connection, rule: PurgeRule, days: int, now: datetime, dry_run: bool
) -> Outcome:
    table = load_models().tables[rule.table]
    cutoff = now - timedelta(days=days)
    matched = connection.scalar(
        select(func.count()).select_from(table).where(rule.where(table, cutoff))
    )
    purged = 0
    key = tuple_(*table.primary_key.columns)
    while not dry_run:
        rows = [
            tuple(row)
            for row in connection.execute(
                select(*table.primary_key.columns).where(rule.where(table, cutoff)).limit(BATCH)
            )
        ]
        if not rows:
            break
        connection.execute(delete(table).where(key.in_(rows)))
        connection.commit()
        purged += len(rows)
    log.info(
        "retention.dry_run" if dry_run else "retention.purged",
        kind=rule.kind,
        days=days,
        cutoff=cutoff.isoformat(),
        matched=matched,
        purged=purged,
    )
    return Outcome(rule.kind, days, int(matched or 0), purged)


def run(
    url: str,
    *,
    dry_run: bool = False,
    only: Sequence[str] = (),
    environ: dict[str, str] | None = None,
    now: datetime | None = None,
    rules: Sequence[PurgeRule] = RULES,
) -> list[Outcome]:
    """Apply every rule (or those named in ``only``) and log one line per kind."""
    environ = dict(os.environ) if environ is None else environ
    now = now or datetime.now(UTC)
    unknown = set(only) - {rule.kind for rule in rules}
    if unknown:
        raise SystemExit(f"unknown kind(s) {sorted(unknown)}; known: {[r.kind for r in rules]}")
    outcomes = []
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            for rule in rules:
                if only and rule.kind not in only:
                    continue
                days = rule.days(environ)
                if days == 0:
                    log.info("retention.skipped", kind=rule.kind, reason=f"{rule.setting}=0")
                    continue
                outcomes.append(_purge(connection, rule, days, now, dry_run))
    finally:
        engine.dispose()
    return outcomes


def main(argv: list[str]) -> int:
    from app.config import load_settings
    from runtime import configure_logging

    parser = argparse.ArgumentParser(prog="python -m app.retention", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
    parser.add_argument("--only", nargs="+", default=[], metavar="KIND", help="these kinds alone")
    parser.add_argument("--list", action="store_true", help="print the rules and exit")
    args = parser.parse_args(argv)
    if args.list:
        for rule in RULES:
            print(f"{rule.kind}: {rule.setting}={rule.days(dict(os.environ))} - {rule.description}")
        return 0
    settings = load_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    run(settings.sqlalchemy_url, dry_run=args.dry_run, only=args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
