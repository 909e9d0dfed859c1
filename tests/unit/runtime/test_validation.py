from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from jsonschema import Draft4Validator

from runtime.errors import MalformedRequest, ValidationProblem
from runtime.validation import AllErrorsJSONBodyValidator, collect_errors, pointer

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
