"""The one-decode JSON body validator: the checked body becomes the adapter's model, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.types import Message, Scope

from runtime.errors import FieldError, ValidationProblem
from runtime.validation import (
    BODY_KEY,
    VALIDATOR_MAP,
    AllErrorsJSONBodyValidator,
    body_validators,
    validated_body,
)

STRICT = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "size": {"type": "integer"}},
}


class Thing(BaseModel):
    name: str
    size: int = 0


def validator(
    models: dict[str, type[BaseModel]], schema: dict[str, Any] = STRICT, *, nullable: bool = False
) -> AllErrorsJSONBodyValidator:
    cls = body_validators(models)["body"]["application/json"]
    built: AllErrorsJSONBodyValidator = cls(
        schema=schema, required=False, nullable=nullable, encoding="utf-8", strict_validation=True
    )
    return built


def send(check: AllErrorsJSONBodyValidator, body: bytes, operation: str | None) -> Scope:
    extensions = {"connexion_routing": {"operation_id": operation}} if operation else {}
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/things",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        "extensions": extensions,
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    asyncio.run(check.wrap_receive(receive, scope=scope))
    return scope


def test_the_checked_body_is_handed_on_as_the_operations_model() -> None:
    scope = send(validator({"createThing": Thing}), b'{"name": "a", "size": 2}', "createThing")
    assert validated_body(scope) == Thing(name="a", size=2)
    assert isinstance(scope["extensions"][BODY_KEY], Thing)


@pytest.mark.parametrize("operation", ["otherThing", None])
def test_an_operation_without_a_declared_model_gets_no_model(operation: str | None) -> None:
    scope = send(validator({"createThing": Thing}), b'{"name": "a"}', operation)
    assert BODY_KEY not in scope["extensions"]
    assert validated_body(scope) is None


def test_a_body_the_schema_refuses_lists_every_error_and_builds_nothing() -> None:
    check = validator({"createThing": Thing})
    with pytest.raises(ValidationProblem) as raised:
        send(check, b'{"name": "", "size": "x"}', "createThing")
    assert {e.pointer for e in raised.value.errors} == {"#/name", "#/size"}


def test_where_the_model_is_stricter_than_the_schema_its_errors_are_the_answer() -> None:
    check = validator({"createThing": Thing}, schema={"type": "object"})
    with pytest.raises(ValidationProblem) as raised:
        send(check, b'{"size": 1}', "createThing")
    assert [e.pointer for e in raised.value.errors] == ["#/name"]


def test_an_absent_body_is_required_unless_nullable() -> None:
    with pytest.raises(ValidationProblem) as raised:
        validator({"createThing": Thing})._validate(None)
    assert raised.value.errors == (FieldError("#", "a request body is required"),)
    nullable = validator({"createThing": Thing}, nullable=True)
    assert nullable._validate(None) is None


def test_the_models_belong_to_one_app_and_the_other_validators_stay() -> None:
    first, second = body_validators({"a": Thing}), body_validators({})
    json_first = first["body"]["application/json"]
    assert issubclass(json_first, AllErrorsJSONBodyValidator)
    assert json_first.body_models == {"a": Thing}
    assert second["body"]["application/json"].body_models == {}
    assert AllErrorsJSONBodyValidator.body_models == {}
    for media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        assert first["body"][media_type] is VALIDATOR_MAP["body"][media_type]
    assert first["parameter"] is VALIDATOR_MAP["parameter"]
    assert first["response"] is VALIDATOR_MAP["response"]


def test_a_value_that_is_not_a_model_is_not_a_validated_body() -> None:
    assert validated_body({"extensions": {BODY_KEY: {"name": "a"}}}) is None
    assert validated_body({}) is None
