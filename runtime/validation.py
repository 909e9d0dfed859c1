"""Request validators that report every invalid field, not only the first one."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import orjson
from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator
from connexion.lifecycle import ConnexionRequest
from connexion.utils import is_null, is_nullable
from connexion.validators import (
    FormDataValidator,
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    MultiPartFormDataValidator,
    ParameterValidator,
    TextResponseBodyValidator,
)
from jsonschema import Draft4Validator, ValidationError
from jsonschema.validators import extend
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from starlette.types import Receive, Scope, Send

from runtime.contract import pydantic_field_errors
from runtime.errors import FieldError, MalformedRequest, ValidationProblem


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(prefix: str, path: Iterable[object]) -> str:
    """An RFC 6901 pointer, as a URI fragment: ``#`` for the body root, ``#/query/limit``."""
    return "/".join([prefix, *(_escape(p) for p in path)])


def _required_outside_responses(schema: Any) -> list[str]:
    """``required`` less its ``readOnly`` properties, which OpenAPI 3.0 requires in responses
    only."""
    properties = schema.get("properties") or {}
    return [
        name
        for name in schema.get("required", [])
        if not (isinstance(properties.get(name), dict) and properties[name].get("readOnly"))
    ]


def _required_in_requests(
    validator: Draft4Validator, _required: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    yield from Draft4Validator.VALIDATORS["required"](
        validator, _required_outside_responses(schema), instance, schema
    )


def _read_only_in_requests(
    _validator: Draft4Validator, read_only: Any, _instance: Any, _schema: Any
) -> Iterator[ValidationError]:
    if read_only is True:
        yield ValidationError("is read-only")


# WHY: Connexion 3's request validator reads ``required`` as plain JSON Schema, so a required
# readOnly property (an id the server assigns) was demanded from the client, while the
# generated request model leaves it out and refuses it: the two disagreed on every such body.
RequestBodySchemaValidator: type[Draft4Validator] = extend(  # type: ignore[no-untyped-call]
    Draft4RequestValidator,
    {"required": _required_in_requests, "readOnly": _read_only_in_requests},
)


def schema_errors(error: ValidationError, prefix: str) -> list[FieldError]:
    """Field errors for one jsonschema error, pointing at the offending member where it can."""
    path = list(error.absolute_path)
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required" and isinstance(instance, dict):
        missing = [n for n in _required_outside_responses(schema) if n not in instance]
        named = [n for n in missing if repr(n) in error.message] or missing
        return [FieldError(pointer(prefix, [*path, n]), "is required") for n in named[:1]]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        declared = set(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in declared)
        return [FieldError(pointer(prefix, [*path, k]), "is not an accepted field") for k in extra]
    return [FieldError(pointer(prefix, path), describe(error))]


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_RULES: dict[str, Callable[[Any], str]] = {
    "type": lambda v: f"must be of type {' or '.join(v) if isinstance(v, list) else v}",
    "enum": lambda v: "must be one of: " + ", ".join(json.dumps(x) for x in v),
    "minLength": lambda v: f"must be at least {_count(v, 'character')} long",
    "maxLength": lambda v: f"must be at most {_count(v, 'character')} long",
    "pattern": lambda v: f"must match the pattern {v}",
    "format": lambda v: f"must be a valid {v}",
    "minimum": lambda v: f"must be at least {v}",
    "maximum": lambda v: f"must be at most {v}",
    "exclusiveMinimum": lambda v: "must be greater than the minimum",
    "exclusiveMaximum": lambda v: "must be less than the maximum",
    "multipleOf": lambda v: f"must be a multiple of {v}",
    "minItems": lambda v: f"must have at least {_count(v, 'item')}",
    "maxItems": lambda v: f"must have at most {_count(v, 'item')}",
    "uniqueItems": lambda v: "must not contain the same item twice",
    "minProperties": lambda v: f"must have at least {_count(v, 'field')}",
    "maxProperties": lambda v: f"must have at most {_count(v, 'field')}",
    "nullable": lambda v: "must not be null",
    "readOnly": lambda v: "is read-only: the server sets it",
}


def describe(error: ValidationError) -> str:
    """What the rule requires, never the value that broke it.

    WHY: jsonschema's messages quote the rejected value; a rejected password or token would
    then come back in the response body (and land in logs that record problems)."""
    if error.validator == "pattern" and isinstance(error.schema, dict):
        # WHY: a regular expression is no message for a person; the spec may say it in words.
        message = error.schema.get("x-pattern-message")
        if isinstance(message, str) and message:
            return message
    rule = _RULES.get(str(error.validator))
    if rule is not None:
        return rule(error.validator_value)
    if error.validator in {"oneOf", "anyOf"}:
        return (
            "must match exactly one of the allowed shapes"
            if error.validator == "oneOf"
            else ("must match one of the allowed shapes")
        )
    return f"does not satisfy the '{error.validator}' rule"


def collect_errors(validator: Draft4Validator, instance: Any, prefix: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        errors.extend(schema_errors(error, prefix))
    return errors


BODY_KEY = "runtime.body"


def validated_body(scope: Scope) -> BaseModel | None:
    """The request body as its operation's model, when the body validator made it."""
    value = scope.get("extensions", {}).get(BODY_KEY)
    return value if isinstance(value, BaseModel) else None


class AllErrorsJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """JSON body validation with every error listed and strict decoding.

    The body is decoded once and checked once against the operation's schema; when the
    operation's adapter declared its body model (``body_models``), the checked value is turned
    into that model here and handed on in ``scope["extensions"]``, for the adapter to take as
    it is. WHY: orjson instead of json: it rejects invalid UTF-8, lone surrogates, NaN and
    infinities, which the database would otherwise refuse later with a 500."""

    body_models: ClassVar[Mapping[str, type[BaseModel]]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._compiled = compiled(self._schema, RequestBodySchemaValidator)
        self._scope: Scope | None = None

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        self._scope = scope
        result: tuple[Receive, Scope] = await super().wrap_receive(receive, scope=scope)
        return result

    async def _parse(self, stream: AsyncGenerator[bytes, None], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw.strip():
            return None
        try:
            if self._encoding.lower().replace("-", "") != "utf8":
                raw = raw.decode(self._encoding).encode("utf-8")
            return orjson.loads(raw)
        except (orjson.JSONDecodeError, UnicodeError, LookupError) as exc:
            raise MalformedRequest(f"The body is not valid JSON: {exc}") from None

    def _validate(self, body: Any) -> None:
        if body is None:
            if not self._nullable:
                raise ValidationProblem(errors=[FieldError("#", "a request body is required")])
            return
        errors = collect_errors(self._compiled, body, "#")
        if errors:
            raise ValidationProblem(errors=errors)
        scope = self._scope
        if scope is None:
            return
        operation = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
        model = self.body_models.get(operation) if operation else None
        if model is None:
            return
        try:
            value = model.model_validate(body)
        except PydanticValidationError as exc:
            # WHY: only where the schema and the model disagree (tests/unit/runtime/
            # test_schema_model_agreement.py keeps the two specs free of that).
            raise ValidationProblem(errors=pydantic_field_errors(exc, location="body")) from None
        scope.setdefault("extensions", {})[BODY_KEY] = value


def body_validators(body_models: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """``VALIDATOR_MAP`` whose JSON body validator turns bodies into the given models.

    ``body_models`` maps an operationId to the model its adapter takes as ``body``."""
    json_validator = type(
        "ModelJSONBodyValidator", (AllErrorsJSONBodyValidator,), {"body_models": body_models}
    )
    return {
        **VALIDATOR_MAP,
        "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": json_validator}),
    }


class AllErrorsParameterValidator(ParameterValidator):  # type: ignore[misc]
    """Parameter validation that names every invalid or unexpected parameter."""

    def validate_request(self, request: ConnexionRequest) -> None:
        errors: list[FieldError] = []
        if self.strict_validation:
            extra = self.validate_query_parameter_list(
                request, security_params=self.security_query_params
            )
            errors.extend(
                FieldError(pointer("#/query", [name]), "is not an accepted parameter")
                for name in sorted(extra)
            )
        sources: dict[str, Callable[[dict[str, Any]], Any]] = {
            "query": lambda p: request.query_params.get(p["name"]),
            "path": lambda p: request.path_params.get(p["name"].replace("-", "_")),
            "header": lambda p: request.headers.get(p["name"]),
            "cookie": lambda p: request.cookies.get(p["name"]),
        }
        for location, read in sources.items():
            for param in self.parameters.get(location, []):
                errors.extend(_parameter_errors(location, param, read(param)))
        if errors:
            raise ValidationProblem(errors=errors)


def _parameter_errors(location: str, param: dict[str, Any], value: Any) -> list[FieldError]:
    prefix = pointer("#", [location, param["name"]])
    if value is None:
        return [FieldError(prefix, "is required")] if param.get("required") else []
    if is_nullable(param) and is_null(value):
        return []
    return collect_errors(compiled(param.get("schema", param), Draft4Validator), value, prefix)


_COMPILED: dict[tuple[int, type], tuple[Any, Draft4Validator]] = {}


def compiled(schema: Any, kind: type[Draft4Validator]) -> Draft4Validator:
    """A validator built once per schema object of the spec, not once per request.

    WHY: Connexion creates its validators for every request, and building a jsonschema
    validator (format checker, ref resolver) costs more than running it. Keyed by identity:
    Connexion hands us the same schema dicts on every call; the entry keeps the schema alive
    so its id cannot be reused by another object."""
    key = (id(schema), kind)
    entry = _COMPILED.get(key)
    if entry is None or entry[0] is not schema:
        entry = (schema, kind(schema, format_checker=Draft4Validator.FORMAT_CHECKER))
        _COMPILED[key] = entry
    return entry[1]


class _AllErrorsForm:
    """Mixin for form validators: every invalid field listed, in words that quote no value.

    WHY: Connexion's form validator answers with jsonschema's first message, which quotes the
    rejected value: a refused password sent as a form would come back in the problem."""

    _schema: Any
    _strict_validation: bool

    def _validate(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValidationProblem(errors=[FieldError("#", "must be a form")])
        errors = collect_errors(compiled(self._schema, RequestBodySchemaValidator), body, "#")
        if self._strict_validation:
            known = self._schema.get("properties", {}).keys()
            reported = {error.pointer for error in errors}
            errors += [
                FieldError(pointer("#", [name]), "is not an accepted field")
                for name in sorted(set(body) - set(known))
                if pointer("#", [name]) not in reported
            ]
        if errors:
            raise ValidationProblem(errors=errors)


class AllErrorsFormDataValidator(_AllErrorsForm, FormDataValidator):  # type: ignore[misc]
    """``application/x-www-form-urlencoded`` bodies, every error listed."""


class AllErrorsMultiPartValidator(_AllErrorsForm, MultiPartFormDataValidator):  # type: ignore[misc]
    """``multipart/form-data`` bodies, every error listed."""


class _SkipHeadResponses:
    """Mixin for response body validators: a response to HEAD is not validated.

    WHY: Starlette routes HEAD to the GET operation, and the answer to HEAD carries GET's status
    and headers but no body (RFC 9110 section 9.3.2); validating that empty body against GET's
    schema turned every HEAD into a 500 whenever ``VALIDATE_RESPONSES`` was on."""

    _scope: Scope

    def wrap_send(self, send: Send) -> Send:
        if self._scope.get("method") == "HEAD":
            return send
        wrapped: Send = super().wrap_send(send)  # type: ignore[misc]
        return wrapped


class JSONResponseValidator(_SkipHeadResponses, JSONResponseBodyValidator):  # type: ignore[misc]
    """Connexion's JSON response validator, except for HEAD."""


class TextResponseValidator(_SkipHeadResponses, TextResponseBodyValidator):  # type: ignore[misc]
    """Connexion's text response validator, except for HEAD."""


VALIDATOR_MAP: dict[str, Any] = {
    "parameter": AllErrorsParameterValidator,
    "body": MediaTypeDict(
        {
            "*/*json": AllErrorsJSONBodyValidator,
            "application/x-www-form-urlencoded": AllErrorsFormDataValidator,
            "multipart/form-data": AllErrorsMultiPartValidator,
        }
    ),
    "response": MediaTypeDict(
        {
            "*/*json": JSONResponseValidator,
            "text/plain": TextResponseValidator,
        }
    ),
}
