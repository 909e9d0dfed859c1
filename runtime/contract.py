"""Support for generated route adapters: typed requests in, typed responses out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import flask
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_json

from runtime.auth.security import current_principal
from runtime.auth.tokens import Principal
from runtime.errors import FieldError, Unauthenticated, ValidationProblem

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])
BODY_MODEL_ATTRIBUTE = "__body_model__"

__all__ = [
    "ApiResponse",
    "HeadersModel",
    "ParametersModel",
    "Principal",
    "RequestModel",
    "caller",
    "optional_caller",
    "parse",
    "render",
    "request_cookies",
    "request_headers",
    "takes_body",
    "typed_body",
]


class RequestModel(BaseModel):
    """Base of generated per-operation request types (path, query, header, cookie, body)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, arbitrary_types_allowed=True)


class ParametersModel(BaseModel):
    """Base of generated parameter groups; names follow Python, aliases follow the spec."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class HeadersModel(BaseModel):
    """Base of generated response header groups; aliases are the HTTP header names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class ApiResponse(BaseModel):
    """Base of generated per-status response types; the adapter renders them."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    status_code: ClassVar[int]
    content_type: ClassVar[str | None] = None


def parse(model: type[M], data: Any, *, location: str) -> M:
    """Validate ``data`` into ``model``; a failure is a 400 problem naming every invalid field.

    Connexion has already validated against the schema, so this only fails where the JSON
    Schema and the Pydantic model disagree, and then the client still gets a clear answer."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationProblem(errors=pydantic_field_errors(exc, location=location)) from None


def takes_body(model: type[BaseModel]) -> Callable[[F], F]:
    """Declares the model an adapter takes as its JSON ``body``.

    The runtime's body validator then builds that model from the body it decoded and checked,
    once, and the adapter receives it as it is (:func:`typed_body`)."""

    def declare(function: F) -> F:
        setattr(function, BODY_MODEL_ATTRIBUTE, model)
        return function

    return declare


def body_model(function: Callable[..., Any]) -> type[BaseModel] | None:
    """The model an adapter declared with :func:`takes_body`, if any."""
    model = getattr(function, BODY_MODEL_ATTRIBUTE, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def typed_body(model: type[M], params: Mapping[str, Any]) -> M:
    """The body as ``model``: the validator's instance, or parsed here when the app was
    bound without the runtime's validators."""
    value = params.get("body")
    if isinstance(value, model):
        return value
    return parse(model, value, location="body")


def pydantic_field_errors(exc: ValidationError, *, location: str) -> list[FieldError]:
    prefix = "#" if location == "body" else f"#/{location}"
    errors = []
    for error in exc.errors(include_url=False):
        parts = [str(p).replace("~", "~0").replace("/", "~1") for p in error["loc"]]
        errors.append(FieldError(pointer="/".join([prefix, *parts]), detail=error["msg"]))
    return errors


def render(response: ApiResponse) -> flask.Response:
    """Serialise a typed response with its status, headers and explicit content type."""
    body = getattr(response, "body", None)
    headers = getattr(response, "headers", None)
    header_values: Mapping[str, Any] = (
        headers.model_dump(by_alias=True, exclude_none=True) if headers is not None else {}
    )
    if body is None:
        payload: bytes | str = b""
    elif isinstance(body, bytes | str):
        payload = body
    else:
        payload = to_json(body, by_alias=True)
    result = flask.Response(payload, status=response.status_code)
    if body is None:
        result.headers.pop("Content-Type", None)
    else:
        result.headers["Content-Type"] = response.content_type or "application/json"
    for name, value in header_values.items():
        result.headers[name] = str(value)
    return result


def request_headers() -> dict[str, str]:
    """The request's headers with lower-cased names, as generated header models expect."""
    return {name.lower(): value for name, value in flask.request.headers.items()}


def request_cookies() -> dict[str, str]:
    return dict(flask.request.cookies)


def optional_caller() -> Principal | None:
    """Who is calling, when the operation accepts anonymous calls too."""
    return current_principal()


def caller() -> Principal:
    """Who is calling an operation whose security requires a token.

    Connexion's security middleware has already refused the request without one, so a
    missing principal here means the runtime is wired wrongly: fail closed, as a 401."""
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("This operation needs an access token.")
    return principal
