"""The Idempotency extension's Flask hooks on a bare Flask app and an in-memory SQLite table:
which operations it guards, whose key it is, what it stores and what it replays.

The PostgreSQL-only part (the advisory lock, so a concurrent retry gets 409) is in
``tests/integration/test_idempotency.py``."""

from __future__ import annotations

import contextvars
import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import connexion.context
import flask
import pytest
from sqlalchemy import MetaData, Table, create_engine, select, update
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from runtime.auth import Principal
from runtime.errors import ValidationProblem
from runtime.idempotency import (
    Idempotency,
    IdempotencyKeyReused,
    fingerprint,
    idempotency_table,
)

SECRET = b"fingerprint key"


class Api:
    """A Flask app with one guarded operation per mode, counting the handler's runs."""

    def __init__(self) -> None:
        engine = create_engine("sqlite://", poolclass=StaticPool)
        metadata = MetaData()
        self.table: Table = idempotency_table(metadata)
        metadata.create_all(engine)
        self.session = Session(engine)
        self.app = flask.Flask(__name__)
        self.app.testing = True
        self.runs = 0
        self.status = 201
        Idempotency().init_app(
            self.app,
            session=lambda: self.session,
            table=self.table,
            policies={
                "required": {"idempotency_key": "required"},
                "optional": {"idempotency_key": "optional"},
                "unguarded": {"idempotency_key": "none"},
                "unset": {"x-other": True},
            },
            ttl_s=60,
            secret=SECRET,
        )
        self.app.add_url_rule("/things", view_func=self.create, methods=["POST"])

    def create(self) -> flask.Response:
        self.runs += 1
        response = flask.jsonify(run=self.runs, got=flask.request.get_json(silent=True))
        response.status_code = self.status
        response.headers["Location"] = f"/things/{self.runs}"
        response.headers["Set-Cookie"] = "seen=1"
        return response

    def post(
        self,
        operation: str | None,
        key: str | None = None,
        *,
        caller: Principal | None = None,
        address: str = "10.0.0.1",
        **kwargs: Any,
    ) -> Any:
        """POST /things as Connexion would hand it over: routed to ``operation``."""
        headers = {"Idempotency-Key": key} if key is not None else {}

        def send() -> Any:
            if operation is not None:
                connexion.context._operation.set(SimpleNamespace(operation_id=operation))
            connexion.context._context.set({"token_info": {"principal": caller}})
            with self.app.test_client() as client:
                response = client.post(
                    "/things", headers=headers, environ_base={"REMOTE_ADDR": address}, **kwargs
                )
            self.session.commit()
            return response

        return contextvars.copy_context().run(send)

    def rows(self) -> list[Any]:
        return list(self.session.execute(select(self.table)).all())


@pytest.fixture
def api() -> Iterator[Api]:
    api = Api()
    yield api
    api.session.close()


def caller() -> Principal:
    return Principal(subject=str(uuid.uuid4()), scopes=frozenset(), token_id="t", expires_at=0)


def test_only_an_operation_whose_policy_asks_for_keys_is_guarded(api: Api) -> None:
    for operation in (None, "unlisted", "unguarded", "unset"):
        assert api.post(operation, "k1", json={"a": 1}).status_code == 201
    assert api.runs == 4
    assert api.rows() == []


def test_a_required_key_that_is_missing_is_a_400_an_optional_one_is_not(api: Api) -> None:
    with pytest.raises(ValidationProblem) as raised:
        api.post("required", json={"a": 1})
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#/header/Idempotency-Key", "this operation needs a key")
    ]
    assert api.runs == 0
    assert [api.post("optional", json={"a": 1}).status_code for _ in range(2)] == [201, 201]
    assert api.runs == 2
    assert api.rows() == []


def test_a_retry_with_the_key_replays_the_stored_answer_without_running_again(api: Api) -> None:
    first = api.post("required", "k1", json={"a": 1, "b": [2]})
    # Other key order and whitespace: the same JSON, the same request.
    again = api.post("required", "k1", data='{"b": [2],  "a": 1}', content_type="application/json")
    assert api.runs == 1
    assert (again.status_code, again.get_json()) == (201, {"run": 1, "got": {"a": 1, "b": [2]}})
    assert first.get_json() == again.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert "Set-Cookie" not in again.headers
    (row,) = api.rows()
    assert (row.scope, row.operation_id, row.key) == ("addr:10.0.0.1", "required", "k1")
    assert row.fingerprint == fingerprint(
        method="POST",
        path="/things",
        query=[],
        body=b'{"a": 1, "b": [2]}',
        content_type="application/json",
        secret=SECRET,
    )
    assert not {"set-cookie", "content-length", "date"} & {h.lower() for h in row.headers}
    assert timedelta(seconds=59) < row.expires_at - row.created_at <= timedelta(seconds=60)


def test_the_key_with_another_request_is_refused(api: Api) -> None:
    api.post("required", "k1", query_string="tag=a&tag=b", json={"a": 1})
    for changed in (
        {"query_string": "tag=a&tag=c", "json": {"a": 1}},
        {"query_string": "tag=a&tag=b", "json": {"a": 2}},
    ):
        with pytest.raises(IdempotencyKeyReused) as raised:
            api.post("required", "k1", **changed)
        assert raised.value.detail == (
            "This Idempotency-Key was used for a different request; use a new key."
        )
    assert api.runs == 1


_HOSTS = itertools.count()


@pytest.mark.parametrize(
    "who",
    [
        lambda: {"caller": caller()},
        # WHY a counter: two random hosts of 200 were the same one run in 200, and then the
        # second caller's request was a replay.
        lambda: {"address": f"10.0.{next(_HOSTS) % 250}.2"},
    ],
    ids=["per-subject", "per-address"],
)
def test_one_key_of_two_callers_is_two_keys(api: Api, who: Callable[[], dict[str, Any]]) -> None:
    first, second = who(), who()
    api.post("required", "k1", json={"a": 1}, **first)
    api.post("required", "k1", json={"a": 1}, **second)
    api.post("required", "k1", json={"a": 1}, **first)
    assert api.runs == 2
    scopes = {row.scope for row in api.rows()}
    if "caller" in first:
        assert scopes == {f"sub:{first['caller'].subject}", f"sub:{second['caller'].subject}"}
    else:
        assert scopes == {f"addr:{first['address']}", f"addr:{second['address']}"}


def test_an_error_is_not_stored_so_the_retry_runs_again(api: Api) -> None:
    api.status = 400
    assert api.post("required", "k1", json={"a": 1}).status_code == 400
    assert api.rows() == []
    api.status = 399
    assert api.post("required", "k2", json={"a": 1}).status_code == 399
    assert len(api.rows()) == 1
    api.status = 201
    assert api.post("required", "k1", json={"a": 1}).status_code == 201
    assert api.runs == 3
    assert len(api.rows()) == 2


def test_an_expired_answer_is_replaced_by_a_new_run(api: Api) -> None:
    api.post("required", "k1", json={"a": 1})
    api.session.execute(update(api.table).values(expires_at=datetime.now(UTC) - timedelta(1)))
    api.session.commit()
    again = api.post("required", "k1", json={"a": 1})
    assert again.get_json()["run"] == 2 and "Idempotent-Replayed" not in again.headers
    (row,) = api.rows()
    assert row.expires_at.replace(tzinfo=UTC) > datetime.now(UTC)


def test_a_caller_without_an_address_is_one_unknown_address(api: Api) -> None:
    api.post("required", "k1", json={"a": 1}, address="")
    api.post("required", "k1", json={"a": 1}, address="")
    assert api.runs == 1
    assert [row.scope for row in api.rows()] == ["addr:unknown"]
