from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from connexion.exceptions import NonConformingResponseBody
from connexion.json_schema import Draft4RequestValidator
from connexion.lifecycle import ConnexionRequest
from connexion.uri_parsing import OpenAPIURIParser
from jsonschema import Draft4Validator, ValidationError
from starlette.requests import Request

from runtime.errors import FieldError, MalformedRequest, ValidationProblem
from runtime.validation import (
    AllErrorsFormDataValidator,
    AllErrorsJSONBodyValidator,
    AllErrorsMultiPartValidator,
    AllErrorsParameterValidator,
    JSONResponseValidator,
    RequestBodySchemaValidator,
    _parameter_errors,
    collect_errors,
    compiled,
    pointer,
    schema_errors,
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


async def _chunks(*parts: bytes) -> AsyncGenerator[bytes, None]:
    for part in parts:
        yield part


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

    async def respond(method: str, body: bytes) -> list[object]:
        sent: list[object] = []

        async def inner(message: object) -> None:
            sent.append(message)

        wrapped = validator(method).wrap_send(inner)
        await wrapped({"type": "http.response.start", "status": 200, "headers": []})
        await wrapped({"type": "http.response.body", "body": body, "more_body": False})
        return sent

    assert len(asyncio.run(respond("GET", b'{"a": 1}'))) == 2
    with pytest.raises(NonConformingResponseBody):
        asyncio.run(respond("GET", b"[1]"))


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


PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}},
    {"name": "project-id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "X-Tag", "in": "header", "schema": {"type": "string", "maxLength": 2}},
    {"name": "session", "in": "cookie", "required": True, "schema": {"type": "string"}},
]


def parameter_request(query: bytes, headers: list[tuple[bytes, bytes]]) -> ConnexionRequest:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/p/abc",
        "query_string": query,
        "headers": headers,
        "path_params": {"project_id": "abc"},
    }
    parser = OpenAPIURIParser(PARAMETERS, {})
    return ConnexionRequest.from_starlette_request(Request(scope), uri_parser=parser)


@pytest.mark.parametrize("strict", [True, False])
def test_every_parameter_of_every_location_is_checked_and_each_error_named(strict: bool) -> None:
    validator = AllErrorsParameterValidator(
        PARAMETERS, OpenAPIURIParser, strict_validation=strict, security_query_params=["key"]
    )
    request = parameter_request(b"limit=11&zeta=1&alpha=2&key=k", [(b"x-tag", b"abc")])
    with pytest.raises(ValidationProblem) as raised:
        validator.validate_request(request)
    unexpected = [
        ("#/query/alpha", "is not an accepted parameter"),
        ("#/query/zeta", "is not an accepted parameter"),
    ]
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        *(unexpected if strict else []),
        ("#/query/limit", "must be at most 10"),
        ("#/header/X-Tag", "must be at most 2 characters long"),
        ("#/cookie/session", "is required"),
    ]


def test_valid_parameters_in_every_location_pass() -> None:
    validator = AllErrorsParameterValidator(PARAMETERS, OpenAPIURIParser, strict_validation=True)
    headers = [(b"x-tag", b"ab"), (b"cookie", b"session=s1")]
    assert validator.validate_request(parameter_request(b"limit=10", headers)) is None
    # The path parameter is read under its Python name; without it, it is missing.
    request = parameter_request(b"", headers)
    request._starlette_request.scope["path_params"] = {}
    with pytest.raises(ValidationProblem) as raised:
        validator.validate_request(request)
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#/path/project-id", "is required")
    ]


FORM = {
    "type": "object",
    "required": ["username"],
    "additionalProperties": False,
    "properties": {
        "username": {"type": "string", "minLength": 2},
        "password": {"type": "string", "maxLength": 4},
    },
}


def form_validator(*, strict: bool, multipart: bool = False) -> AllErrorsFormDataValidator:
    kind = AllErrorsMultiPartValidator if multipart else AllErrorsFormDataValidator
    return kind(schema=FORM, encoding="utf-8", strict_validation=strict)


@pytest.mark.parametrize(("multipart", "strict"), [(False, False), (True, True)])
def test_a_form_lists_every_error_without_quoting_a_value(multipart: bool, strict: bool) -> None:
    with pytest.raises(ValidationProblem) as raised:
        form_validator(strict=strict, multipart=multipart)._validate(
            {"username": "a", "password": "secret-value", "zeta": "1"}
        )
    found = [(e.pointer, e.detail) for e in raised.value.errors]
    # The schema's own additionalProperties names the unknown field, once, strict or not.
    assert found == [
        ("#/zeta", "is not an accepted field"),
        ("#/password", "must be at most 4 characters long"),
        ("#/username", "must be at least 2 characters long"),
    ]
    assert "secret-value" not in str(raised.value.to_dict())


def test_strict_validation_names_each_unknown_form_field_the_schema_did_not() -> None:
    open_form = {**FORM, "additionalProperties": True}
    validator = AllErrorsFormDataValidator(
        schema=open_form, encoding="utf-8", strict_validation=True
    )
    with pytest.raises(ValidationProblem) as raised:
        validator._validate({"username": "ab", "zeta": "1", "alpha": "2"})
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#/alpha", "is not an accepted field"),
        ("#/zeta", "is not an accepted field"),
    ]
    bare = AllErrorsFormDataValidator(schema={}, encoding="utf-8", strict_validation=True)
    with pytest.raises(ValidationProblem) as unknown:
        bare._validate({"zeta": "1"})
    assert [(e.pointer, e.detail) for e in unknown.value.errors] == [
        ("#/zeta", "is not an accepted field")
    ]
    lenient = AllErrorsFormDataValidator(
        schema=open_form, encoding="utf-8", strict_validation=False
    )
    assert lenient._validate({"username": "ab", "zeta": "1"}) is None
    assert validator._validate({"username": "ab", "password": "pw"}) is None


def test_a_form_body_that_is_not_a_mapping_is_one_error() -> None:
    with pytest.raises(ValidationProblem) as raised:
        form_validator(strict=True)._validate(["username"])
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [("#", "must be a form")]
    with pytest.raises(ValidationProblem) as missing:
        form_validator(strict=True)._validate({})
    assert [(e.pointer, e.detail) for e in missing.value.errors] == [("#/username", "is required")]


def test_each_missing_field_is_named_once_by_its_own_error() -> None:
    errors = collect_errors(Draft4Validator({"required": ["a", "b"]}), {}, "#")
    assert [(e.pointer, e.detail) for e in errors] == [
        ("#/a", "is required"),
        ("#/b", "is required"),
    ]


def test_a_required_error_that_names_no_field_points_at_the_first_missing_one() -> None:
    unnamed = ValidationError(
        "missing", validator="required", instance={}, schema={"required": ["a", "b"]}
    )
    assert [(e.pointer, e.detail) for e in schema_errors(unnamed, "#")] == [("#/a", "is required")]
    no_list = ValidationError("missing", validator="required", instance={}, schema={})
    assert schema_errors(no_list, "#") == []


def test_a_schema_without_properties_forbids_every_field_by_name() -> None:
    errors = collect_errors(Draft4Validator({"additionalProperties": False}), {"b": 1, "a": 2}, "#")
    assert [(e.pointer, e.detail) for e in errors] == [
        ("#/a", "is not an accepted field"),
        ("#/b", "is not an accepted field"),
    ]


def test_a_pattern_message_explains_only_the_pattern_and_only_when_it_is_text() -> None:
    worded = {"pattern": "^a", "maxLength": 1, "x-pattern-message": "must start with a"}
    assert [e.detail for e in collect_errors(Draft4Validator(worded), "ab", "#")] == [
        "must be at most 1 character long"
    ]
    odd = {"pattern": "^a", "x-pattern-message": 5}
    assert [e.detail for e in collect_errors(Draft4Validator(odd), "b", "#")] == [
        "must match the pattern ^a"
    ]


def test_a_body_in_several_chunks_is_joined_and_a_bad_one_says_why() -> None:
    assert asyncio.run(body_validator()._parse(_chunks(b'{"na', b'me": "a"}'), {})) == {"name": "a"}
    with pytest.raises(MalformedRequest) as caught:
        parse(b"{")
    assert (caught.value.detail or "").startswith("The body is not valid JSON: ")


def test_the_text_null_is_checked_unless_the_parameter_is_nullable() -> None:
    strict = {"name": "q", "schema": {"type": "string", "maxLength": 2}}
    assert [e.detail for e in _parameter_errors("query", strict, "null")] == [
        "must be at most 2 characters long"
    ]
    nullable = {"name": "q", "schema": {"type": "string", "nullable": True, "maxLength": 1}}
    assert [e.detail for e in _parameter_errors("query", nullable, "ab")] == [
        "must be at most 1 character long"
    ]


def test_a_compiled_validator_checks_formats_and_each_schema_keeps_its_own() -> None:
    # WHY fresh dicts here: validators compiled earlier in the session stay cached.
    email, other = {"format": "email"}, {"format": "email"}
    first = compiled(email, Draft4Validator)
    assert [e.detail for e in collect_errors(first, "no-at-sign", "#")] == ["must be a valid email"]
    assert compiled(other, Draft4Validator) is not first
    assert compiled(email, Draft4Validator) is first
