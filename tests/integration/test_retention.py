"""Retention purges finished logins and long-disabled users (with their data) on PostgreSQL,
keeps everything else, and changes nothing on a dry run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, func, insert, select

from app.migrate import load_models
from app.retention import RULES, PurgeRule, main, older_than, run

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 6, 1, tzinfo=UTC)
tables = load_models().tables


@pytest.fixture
def engine(clean_postgres: str) -> Iterator[Engine]:
    engine = create_engine(clean_postgres)
    yield engine
    engine.dispose()


def add_user(engine: Engine, *, disabled_days_ago: int | None) -> uuid.UUID:
    user_id = uuid.uuid4()
    changed = NOW - timedelta(days=disabled_days_ago or 0)
    with engine.begin() as connection:
        connection.execute(
            insert(tables["users"]).values(
                id=user_id,
                email=f"{user_id.hex}@example.com",
                password_hash="x",
                role="user",
                is_disabled=disabled_days_ago is not None,
                password_changed_at=changed,
                created_at=changed,
                updated_at=changed,
            )
        )
        project_id = uuid.uuid4()
        connection.execute(
            insert(tables["projects"]).values(
                id=project_id, name="p", owner_id=user_id, created_at=changed, updated_at=changed
            )
        )
        connection.execute(
            insert(tables["tasks"]).values(
                id=uuid.uuid4(),
                project_id=project_id,
                title="t",
                status="todo",
                created_at=changed,
                updated_at=changed,
            )
        )
    return user_id


def add_family(
    engine: Engine, user_id: uuid.UUID, *, expires_days: int, revoked_days_ago: int | None = None
) -> uuid.UUID:
    family_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(tables["refresh_families"]).values(
                id=family_id,
                user_id=user_id,
                created_at=NOW - timedelta(days=90),
                expires_at=NOW + timedelta(days=expires_days),
                revoked_at=None
                if revoked_days_ago is None
                else NOW - timedelta(days=revoked_days_ago),
            )
        )
        connection.execute(
            insert(tables["refresh_tokens"]).values(
                id=uuid.uuid4(), family_id=family_id, token_hash=uuid.uuid4().hex * 2
            )
        )
    return family_id


def ids(engine: Engine, table: str) -> set[uuid.UUID]:
    with engine.connect() as connection:
        return set(connection.scalars(select(tables[table].c.id)))


def count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(tables[table])) or 0)


def add_expiring(engine: Engine, table: str, *, expires_days: int) -> None:
    """An idempotency record or a logged-out token that expires ``expires_days`` from NOW."""
    expires_at = NOW + timedelta(days=expires_days)
    key = uuid.uuid4().hex
    row = (
        {"jti": key, "expires_at": expires_at}
        if table == "revoked_access_tokens"
        else {
            "scope": "sub:someone",
            "operation_id": "createProject",
            "key": key,
            "fingerprint": "0" * 64,
            "status_code": 201,
            "headers": {},
            "body": b"{}",
            "created_at": expires_at - timedelta(days=1),
            "expires_at": expires_at,
        }
    )
    with engine.begin() as connection:
        connection.execute(insert(tables[table]).values(**row))


def test_expired_idempotency_records_and_revocations_go_a_day_after_their_expiry(
    engine: Engine, clean_postgres: str
) -> None:
    for table in ("idempotency_keys", "revoked_access_tokens"):
        add_expiring(engine, table, expires_days=-2)
        add_expiring(engine, table, expires_days=-2)
        add_expiring(engine, table, expires_days=0)  # expired just now: kept one more day
        add_expiring(engine, table, expires_days=1)
    outcomes = run(clean_postgres, environ={}, now=NOW)
    purged = {o.kind: (o.days, o.matched, o.purged) for o in outcomes}
    assert purged["idempotency-records"] == (1, 2, 2)
    assert purged["revoked-access-tokens"] == (1, 2, 2)
    assert count(engine, "idempotency_keys") == 2
    assert count(engine, "revoked_access_tokens") == 2


def test_finished_logins_and_long_disabled_users_go_the_rest_stays(
    engine: Engine, clean_postgres: str
) -> None:
    active = add_user(engine, disabled_days_ago=None)
    recently_disabled = add_user(engine, disabled_days_ago=10)
    long_disabled = add_user(engine, disabled_days_ago=400)
    live = add_family(engine, active, expires_days=5)
    expired_long_ago = add_family(engine, active, expires_days=-40)
    expired_yesterday = add_family(engine, active, expires_days=-1)
    revoked_long_ago = add_family(engine, active, expires_days=5, revoked_days_ago=31)
    add_family(engine, long_disabled, expires_days=5)

    outcomes = run(clean_postgres, environ={}, now=NOW)

    assert {(o.kind, o.days, o.matched, o.purged) for o in outcomes} == {
        ("refresh-families", 30, 2, 2),
        ("disabled-users", 365, 1, 1),
        ("idempotency-records", 1, 0, 0),
        ("revoked-access-tokens", 1, 0, 0),
    }
    assert ids(engine, "users") == {active, recently_disabled}
    assert ids(engine, "refresh_families") == {live, expired_yesterday}
    assert expired_long_ago not in ids(engine, "refresh_families")
    assert revoked_long_ago not in ids(engine, "refresh_families")
    assert count(engine, "refresh_tokens") == 2
    assert count(engine, "projects") == 2 and count(engine, "tasks") == 2


def test_a_dry_run_counts_and_changes_nothing(engine: Engine, clean_postgres: str) -> None:
    user = add_user(engine, disabled_days_ago=400)
    add_family(engine, user, expires_days=-40)
    outcomes = run(clean_postgres, dry_run=True, environ={}, now=NOW)
    assert [(o.matched, o.purged) for o in outcomes] == [(1, 0), (1, 0), (0, 0), (0, 0)]
    assert count(engine, "users") == 1 and count(engine, "refresh_tokens") == 1


def test_each_kind_has_its_own_period_and_zero_turns_it_off(
    engine: Engine, clean_postgres: str
) -> None:
    user = add_user(engine, disabled_days_ago=20)
    add_family(engine, user, expires_days=-40)
    environ = {"RETENTION_DISABLED_USERS_DAYS": "0", "RETENTION_REFRESH_FAMILIES_DAYS": "60"}
    assert run(clean_postgres, environ=environ, now=NOW)[0].purged == 0
    assert count(engine, "users") == 1 and count(engine, "refresh_families") == 1
    environ = {"RETENTION_DISABLED_USERS_DAYS": "14"}
    outcomes = run(clean_postgres, only=["disabled-users"], environ=environ, now=NOW)
    assert [(o.kind, o.purged) for o in outcomes] == [("disabled-users", 1)]
    assert count(engine, "users") == 0 and count(engine, "refresh_families") == 0


def test_a_large_backlog_is_purged_in_batches(
    engine: Engine, clean_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.retention.BATCH", 2)
    user = add_user(engine, disabled_days_ago=None)
    for _ in range(5):
        add_family(engine, user, expires_days=-40)
    assert run(clean_postgres, only=["refresh-families"], environ={}, now=NOW)[0].purged == 5
    assert count(engine, "refresh_families") == 0


def test_a_new_kind_is_one_rule(engine: Engine, clean_postgres: str) -> None:
    user = add_user(engine, disabled_days_ago=None)
    add_family(engine, user, expires_days=-3)
    rule = PurgeRule("old-logins", "refresh_families", older_than("expires_at"), 2, "test")
    assert run(clean_postgres, environ={}, now=NOW, rules=[rule])[0].purged == 1


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_bad_period_is_refused_by_name(value: str, clean_postgres: str) -> None:
    with pytest.raises(SystemExit, match="RETENTION_REFRESH_FAMILIES_DAYS"):
        run(clean_postgres, environ={"RETENTION_REFRESH_FAMILIES_DAYS": value}, now=NOW)
    with pytest.raises(SystemExit, match="unknown kind"):
        run(clean_postgres, only=["tokens"], environ={}, now=NOW)


def test_the_command_logs_one_line_per_kind(
    clean_postgres: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", clean_postgres)
    monkeypatch.setenv("LOG_JSON", "true")
    assert main(["--dry-run"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "{" in line]
    logged = {line["kind"]: line for line in lines if line.get("event") == "retention.dry_run"}
    assert set(logged) == {rule.kind for rule in RULES}
    assert main(["--list"]) == 0
    assert "RETENTION_DISABLED_USERS_DAYS=365" in capsys.readouterr().out
