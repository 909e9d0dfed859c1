from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from connexion.json_schema import Draft4RequestValidator
from jsonschema import Draft4Validator

from runtime.errors import FieldError, MalformedRequest, ValidationProblem
from runtime.validation import (
    AllErrorsJSONBodyValidator,
    JSONResponseValidator,
    RequestBodySchemaValidator,
    _parameter_errors,
    collect_errors,
    compiled,
    pointer,
)

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "size"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "size": {"type": "integer", "maximum": 10},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def body_validator(schema: dict[str, object] = SCHEMA) -> AllErrorsJSONBodyValidator:
    return AllErrorsJSONBodyValidator(
        schema=schema, required=True, nullable=False, encoding="utf-8", strict_validation=True
    )


async def _stream(raw: bytes) -> AsyncGenerator[bytes, None]:
    yield raw


def parse(raw: bytes) -> object:
    return asyncio.run(body_validator()._parse(_stream(raw), scope={}))


def test_every_invalid_field_is_reported_with_its_pointer() -> None:
    errors = collect_errors(
        Draft4Validator(SCHEMA), {"size": "big", "tags": [1, "ok", 2], "role": "admin"}, "#"
    )
    pointers = sorted(e.pointer for e in errors)
    assert pointers == ["#/name", "#/role", "#/size", "#/tags/0", "#/tags/2"]


def test_a_missing_field_points_at_the_field_not_its_parent() -> None:
    errors = collect_errors(Draft4Validator(SCHEMA), {"size": 1}, "#")
    assert [(e.pointer, e.detail) for e in errors] == [("#/name", "is required")]


def test_the_body_validator_raises_one_problem_listing_all_errors() -> None:
    with pytest.raises(ValidationProblem) as caught:
        body_validator()._validate({"name": "", "size": 11})
    assert caught.value.status == 400
    assert {e.pointer for e in caught.value.errors} == {"#/name", "#/size"}
    assert caught.value.detail == "2 invalid fields; see errors."


def test_a_missing_body_is_a_validation_problem() -> None:
    with pytest.raises(ValidationProblem) as caught:
        body_validator()._validate(None)
    assert caught.value.errors[0].pointer == "#"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"name": "\\ud800"}', b"{", b"NaN", b'{"size": 1e999}'],
    ids=["invalid-utf8", "lone-surrogate", "truncated", "nan", "infinity"],
)
def test_undecodable_bodies_are_malformed_requests(raw: bytes) -> None:
    with pytest.raises(MalformedRequest) as caught:
        parse(raw)
    assert caught.value.status == 400


def test_a_blank_body_parses_as_absent() -> None:
    assert parse(b"  ") is None


def test_a_body_in_another_charset_is_decoded_first() -> None:
    validator = AllErrorsJSONBodyValidator(
        schema=SCHEMA, required=True, nullable=False, encoding="latin-1", strict_validation=True
    )
    parsed = asyncio.run(validator._parse(_stream('{"name": "caf\xe9"}'.encode("latin-1")), {}))
    assert parsed == {"name": "café"}


def test_pointer_escapes_slash_and_tilde() -> None:
    assert pointer("#", ["a/b", "c~d", 0]) == "#/a~1b/c~0d/0"


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        ({"type": "string"}, 1, "must be of type string"),
        ({"type": ["string", "null"]}, 1, "must be of type string or null"),
        ({"enum": ["a", 1]}, "b", 'must be one of: "a", 1'),
        ({"minLength": 2}, "a", "must be at least 2 characters long"),
        ({"minLength": 1}, "", "must be at least 1 character long"),
        ({"maxLength": 1}, "ab", "must be at most 1 character long"),
        ({"maxLength": 2}, "abc", "must be at most 2 characters long"),
        ({"pattern": "^a$"}, "b", "must match the pattern ^a$"),
        ({"format": "email"}, "no-at-sign", "must be a valid email"),
        ({"minimum": 3}, 1, "must be at least 3"),
        ({"maximum": 3}, 5, "must be at most 3"),
        ({"multipleOf": 2}, 3, "must be a multiple of 2"),
        ({"minItems": 2}, [1], "must have at least 2 items"),
        ({"minItems": 1}, [], "must have at least 1 item"),
        ({"maxItems": 1}, [1, 2], "must have at most 1 item"),
        ({"maxItems": 2}, [1, 2, 3], "must have at most 2 items"),
        ({"uniqueItems": True}, [1, 1], "must not contain the same item twice"),
        ({"minProperties": 1}, {}, "must have at least 1 field"),
        ({"minProperties": 2}, {"a": 1}, "must have at least 2 fields"),
        ({"maxProperties": 1}, {"a": 1, "b": 2}, "must have at most 1 field"),
        (
            {"oneOf": [{"type": "string"}, {"minLength": 1}]},
            "a",
            "must match exactly one of the allowed shapes",
        ),
        ({"anyOf": [{"type": "string"}]}, 1, "must match one of the allowed shapes"),
        ({"not": {"type": "string"}}, "a", "does not satisfy the 'not' rule"),
    ],
)
def test_each_rule_is_described_without_quoting_the_value(
    schema: dict[str, object], value: object, message: str
) -> None:
    errors = collect_errors(compiled(schema, Draft4Validator), value, "#/query/q")
    assert [(e.pointer, e.detail) for e in errors] == [("#/query/q", message)]


def test_unexpected_fields_are_each_named_and_sorted() -> None:
    errors = collect_errors(
        Draft4Validator(SCHEMA), {"name": "a", "size": 1, "zeta": 1, "alpha": 2}, "#"
    )
    assert [(e.pointer, e.detail) for e in errors] == [
        ("#/alpha", "is not an accepted field"),
        ("#/zeta", "is not an accepted field"),
    ]


def test_nested_errors_point_into_arrays() -> None:
    errors = collect_errors(
        Draft4Validator(SCHEMA), {"name": "a", "size": 1, "tags": ["x", 2]}, "#"
    )
    assert [(e.pointer, e.detail) for e in errors] == [("#/tags/1", "must be of type string")]


def test_a_validator_is_compiled_once_per_schema_object_and_kind() -> None:
    schema = {"type": "string"}
    first = compiled(schema, Draft4Validator)
    assert compiled(schema, Draft4Validator) is first
    assert compiled({"type": "string"}, Draft4Validator) is not first
    assert compiled(schema, Draft4RequestValidator) is not first
    assert isinstance(compiled(schema, Draft4RequestValidator), Draft4RequestValidator)


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (
            {"name": "limit", "required": True, "schema": {"type": "string"}},
            None,
            [("#/query/limit", "is required")],
        ),
        ({"name": "limit", "schema": {"type": "string"}}, None, []),
        (
            {"name": "limit", "schema": {"type": "string", "maxLength": 1}},
            "ab",
            [("#/query/limit", "must be at most 1 character long")],
        ),
        (
            {"name": "limit", "schema": {"type": "string", "nullable": True, "maxLength": 1}},
            "null",
            [],
        ),
        (
            {"name": "limit", "type": "string", "maxLength": 1},
            "ab",
            [("#/query/limit", "must be at most 1 character long")],
        ),
    ],
)
def test_a_parameter_is_required_nullable_or_checked_against_its_schema(
    param: dict[str, object], value: object, expected: list[tuple[str, str]]
) -> None:
    errors = _parameter_errors("query", param, value)
    assert [(e.pointer, e.detail) for e in errors] == expected


def test_the_response_to_head_is_not_validated_but_other_methods_are() -> None:
    async def send(message: object) -> None:
        pass

    def validator(method: str) -> JSONResponseValidator:
        return JSONResponseValidator(
            {"type": "http", "method": method}, schema={"type": "object"}, encoding="utf-8"
        )

    assert validator("HEAD").wrap_send(send) is send
    assert validator("GET").wrap_send(send) is not send


def test_a_missing_body_may_be_allowed_when_nullable() -> None:
    validator = AllErrorsJSONBodyValidator(
        schema=SCHEMA, required=False, nullable=True, encoding="utf-8", strict_validation=True
    )
    assert validator._validate(None) is None
    with pytest.raises(ValidationProblem) as raised:
        body_validator()._validate(None)
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#", "a request body is required")
    ]


def test_a_pattern_with_a_message_in_the_spec_is_explained_in_words() -> None:
    schema = {
        "type": "string",
        "pattern": "^[^@]+@[^@]+$",
        "x-pattern-message": "must be an e-mail",
    }
    [error] = collect_errors(Draft4Validator(schema), "not-an-address", "#/email")
    assert (error.pointer, error.detail) == ("#/email", "must be an e-mail")


def test_a_pattern_without_a_message_names_the_pattern() -> None:
    [error] = collect_errors(Draft4Validator({"pattern": "^a+$"}), "b", "#")
    assert error.detail == "must match the pattern ^a+$"


THING = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "string", "readOnly": True}, "name": {"type": "string"}},
}


def test_a_required_read_only_property_is_not_asked_of_a_request_body() -> None:
    validator = RequestBodySchemaValidator(THING)
    assert collect_errors(validator, {"name": "n"}, "#") == []
    assert collect_errors(validator, {}, "#") == [FieldError("#/name", "is required")]


def test_a_read_only_property_sent_in_a_request_body_is_refused() -> None:
    errors = collect_errors(RequestBodySchemaValidator(THING), {"id": "x", "name": "n"}, "#")
    assert errors == [FieldError("#/id", "is read-only: the server sets it")]
