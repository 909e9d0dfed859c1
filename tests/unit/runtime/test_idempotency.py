"""The Idempotency-Key rules that need no database: key syntax, fingerprint, state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.errors import ValidationProblem
from runtime.idempotency import (
    Decision,
    StoredAnswer,
    decide,
    fingerprint,
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
