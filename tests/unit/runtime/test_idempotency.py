"""The Idempotency-Key rules that need no database: key syntax, fingerprint, state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from app.migrate import upgrade
from runtime.errors import ValidationProblem
from runtime.idempotency import (
    Decision,
    Idempotency,
    StoredAnswer,
    decide,
    fingerprint,
    idempotency_table,
    lock_id,
    parse_key,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def fp(**overrides: object) -> str:
    values: dict[str, object] = {
        "method": "POST",
        "path": "/api/v1/projects",
        "query": [],
        "body": b'{"name": "a", "description": null}',
        "content_type": "application/json",
        **overrides,
    }
    return fingerprint(**values)  # type: ignore[arg-type]


def stored(fingerprint_: str, *, expires_in: timedelta = timedelta(hours=1)) -> StoredAnswer:
    return StoredAnswer(
        fingerprint=fingerprint_,
        status_code=201,
        headers={"Content-Type": "application/json"},
        body=b"{}",
        expires_at=NOW + expires_in,
    )


def test_a_json_body_is_compared_as_data_not_as_bytes() -> None:
    assert fp(body=b'{"description":null,"name":"a"}') == fp()
    assert fp(body=b'{"name": "b", "description": null}') != fp()


def test_method_path_query_and_a_non_json_body_each_change_the_fingerprint() -> None:
    base = fp()
    assert fp(method="PUT") != base
    assert fp(path="/api/v1/projects/x/tasks") != base
    assert fp(query=[("a", "1")]) != base
    assert fp(query=[("a", "1"), ("b", "2")]) == fp(query=[("b", "2"), ("a", "1")])
    assert fp(content_type="text/plain", body=b"x") != fp(content_type="text/plain", body=b"x ")


def test_the_fingerprint_is_keyed_so_the_table_cannot_test_password_guesses() -> None:
    assert fp(secret=b"one") != fp(secret=b"two")
    assert len(fp(secret=b"one")) == 64


def test_parts_cannot_run_into_each_other() -> None:
    assert fp(path="/a", body=b"b") != fp(path="/ab", body=b"")


@pytest.mark.parametrize(
    ("raw", "key"),
    [("abc-123", "abc-123"), ('"abc-123"', "abc-123"), ("x" * 255, "x" * 255)],
)
def test_a_key_is_taken_bare_or_as_a_structured_field_string(raw: str, key: str) -> None:
    assert parse_key(raw, required=False) == key


@pytest.mark.parametrize(
    "raw", ["x" * 256, "a\tb", "a\nb", "a\x00b", "caf\u00e9", "a b", "", '""', "\x7f"]
)
def test_an_unusable_key_is_a_400_naming_the_header(raw: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        parse_key(raw, required=False)
    assert caught.value.errors[0].pointer == "#/header/Idempotency-Key"


def test_a_missing_key_is_a_400_only_where_the_spec_requires_one() -> None:
    assert parse_key(None, required=False) is None
    with pytest.raises(ValidationProblem):
        parse_key(None, required=True)


def test_the_state_machine() -> None:
    mine = fp()
    assert decide(locked=False, stored=None, request_fingerprint=mine, now=NOW) is (
        Decision.IN_FLIGHT
    )
    assert decide(locked=False, stored=stored(mine), request_fingerprint=mine, now=NOW) is (
        Decision.IN_FLIGHT
    )
    assert decide(locked=True, stored=None, request_fingerprint=mine, now=NOW) is Decision.PROCEED
    assert decide(locked=True, stored=stored(mine), request_fingerprint=mine, now=NOW) is (
        Decision.REPLAY
    )
    assert decide(locked=True, stored=stored("other"), request_fingerprint=mine, now=NOW) is (
        Decision.REUSED
    )
    expired = stored("other", expires_in=timedelta(0))
    assert decide(locked=True, stored=expired, request_fingerprint=mine, now=NOW) is (
        Decision.PROCEED
    )


def test_lock_ids_are_signed_64_bit_and_differ_by_scope_operation_and_key() -> None:
    ids = {
        lock_id("sub:a", "createProject", "k"),
        lock_id("sub:b", "createProject", "k"),
        lock_id("sub:a", "createTask", "k"),
        lock_id("sub:a", "createProject", "l"),
    }
    assert len(ids) == 4
    assert all(-(2**63) <= i < 2**63 for i in ids)
    assert lock_id("sub:a", "createProject", "k") == lock_id("sub:a", "createProject", "k")


def test_the_table_is_the_one_the_migrations_create(tmp_path: Path) -> None:
    # WHY a fresh MetaData: the application's table was built at import, before a test runs.
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    metadata = MetaData()
    table = idempotency_table(metadata)
    engine = create_engine(url)
    with engine.connect() as connection:
        only_this = {"include_name": lambda name, kind, _: kind != "table" or name == table.name}
        diffs = compare_metadata(MigrationContext.configure(connection, opts=only_this), metadata)
        inspector = inspect(connection)
        primary_key = inspector.get_pk_constraint("idempotency_keys")["constrained_columns"]
        indexes = inspector.get_indexes("idempotency_keys")
    engine.dispose()
    assert diffs == []
    assert table.name == "idempotency_keys"
    assert primary_key == [c.name for c in table.primary_key] == ["scope", "operation_id", "key"]
    assert [(i["name"], i["column_names"]) for i in indexes] == [
        ("ix_idempotency_keys_expires_at", ["expires_at"])
    ]
    assert {c.name: c.nullable for c in table.columns if not c.primary_key} == dict.fromkeys(
        ("fingerprint", "status_code", "headers", "body", "created_at", "expires_at"), False
    )
    assert [c.type.length for c in table.primary_key] == [255, 128, 255]  # type: ignore[attr-defined]
    assert table.c.fingerprint.type.length == 64  # type: ignore[attr-defined]
    assert table.c.created_at.type.timezone and table.c.expires_at.type.timezone  # type: ignore[attr-defined]


def test_an_extension_not_configured_says_so_and_keeps_a_day_by_default() -> None:
    extension = Idempotency()
    assert (extension.ttl_s, extension.policies, extension._secret) == (86_400, {}, b"")
    for attribute in ("table", "session"):
        with pytest.raises(RuntimeError) as raised:
            getattr(extension, attribute)
        assert str(raised.value) == "Idempotency is not configured; call init_app(app, ...)."


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("", "the key is empty"),
        ('""', "the key is empty"),
        ("k" * 256, "the key is longer than 255 characters"),
        ("a b", "the key may hold printable ASCII characters only"),
        ("a\x7f", "the key may hold printable ASCII characters only"),
        ("caf\u00e9", "the key may hold printable ASCII characters only"),
    ],
)
def test_an_unusable_key_says_what_is_wrong(raw: str, detail: str) -> None:
    with pytest.raises(ValidationProblem) as raised:
        parse_key(raw, required=False)
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#/header/Idempotency-Key", detail)
    ]


def test_the_printable_range_is_inclusive_and_255_characters_fit() -> None:
    assert parse_key("!~", required=True) == "!~"
    assert parse_key("k" * 255, required=True) == "k" * 255


def test_only_a_json_media_type_is_compared_as_data() -> None:
    def fingerprint_of(body: bytes, content_type: str | None) -> str:
        return fingerprint(method="POST", path="/x", query=[], body=body, content_type=content_type)

    for content_type in ("text/plain;profile=json", None):
        assert fingerprint_of(b'{"a":1}', content_type) != fingerprint_of(b'{"a": 1}', content_type)
    json = "application/json;charset=utf-8"
    assert fingerprint_of(b'{"a":1}', json) == fingerprint_of(b'{"a": 1}', json)
