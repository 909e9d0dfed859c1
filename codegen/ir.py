"""The intermediate representation: operations by domain, every $ref but schemas resolved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codegen import typemodel
from codegen.errors import Issue
from codegen.naming import field_name, function_name, pascal_case
from codegen.spec import (
    PROBLEM_CONTENT,
    STATUS_RANGES,
    LoadedSpec,
    body_kind,
    operation_domain,
    operations,
    pick_request_content,
    resolve,
)

Schema = Mapping[str, Any]
PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")


@dataclass(frozen=True)
class Parameter:
    name: str
    python_name: str
    location: str
    schema: Schema
    required: bool
    default: Any
    has_default: bool
    description: str | None
    deprecated: bool


@dataclass(frozen=True)
class RequestBody:
    schema: Schema | None
    required: bool
    content_type: str
    description: str | None

    @property
    def kind(self) -> str:
        """``json``, ``form``, ``multipart``, ``text`` or ``binary`` (see ``spec.body_kind``)."""
        return body_kind(self.content_type)


@dataclass(frozen=True)
class Header:
    name: str
    python_name: str
    schema: Schema
    required: bool
    description: str | None


@dataclass(frozen=True)
class Response:
    status: str
    description: str | None
    content_type: str | None
    schema: Schema | None
    headers: tuple[Header, ...]
    variant: str = ""

    @property
    def is_problem(self) -> bool:
        """Problem documents are raised by the service, so they get no response type."""
        return self.content_type == PROBLEM_CONTENT

    @property
    def name_suffix(self) -> str:
        """``200``, ``Default``, ``4xx``; plus the media type when a status has several."""
        return f"{self.status.capitalize()}{self.variant}"

    @property
    def status_range(self) -> tuple[int, int] | None:
        """For ``default`` and ``4XX``-like statuses, the codes the service may choose from."""
        if self.status == "default":
            return (100, 599)
        if self.status.upper() in STATUS_RANGES:
            first = int(self.status[0]) * 100
            return (first, first + 99)
        return None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    python_name: str
    class_prefix: str
    method: str
    path: str
    summary: str | None
    description: str | None
    deprecated: bool
    tags: tuple[str, ...]
    domain: str
    parameters: tuple[Parameter, ...]
    request_body: RequestBody | None
    responses: tuple[Response, ...]
    security: tuple[Mapping[str, tuple[str, ...]], ...] | None
    extensions: Mapping[str, Any]

    def parameters_in(self, location: str) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == location)

    @property
    def authentication(self) -> str:
        """``required``, ``optional`` (a ``{}`` alternative) or ``none`` (public)."""
        if not self.security:
            return "none"
        if any(not requirement for requirement in self.security):
            return "optional"
        return "required"

    @property
    def typed_responses(self) -> tuple[Response, ...]:
        return tuple(r for r in self.responses if not r.is_problem)


@dataclass(frozen=True)
class Domain:
    name: str
    class_prefix: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Api:
    title: str
    version: str
    spec_sha256: str
    schemas: Mapping[str, Schema]
    domains: tuple[Domain, ...]
    # The document as the type model named it: every schema the renderers read is in here.
    document: Mapping[str, Any] = field(default_factory=dict)
    # Allof children's enums that narrow a base enum, rendered as a Literal of its members.
    narrowed: Mapping[str, typemodel.Narrowing] = field(default_factory=dict)
    # "Request"/"Response" → component → its class in a request or a response body.
    variants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    warnings: tuple[Issue, ...] = ()

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(
            sorted(
                (op for d in self.domains for op in d.operations), key=lambda op: op.operation_id
            )
        )


def build(spec: LoadedSpec) -> Api:
    """Turn a validated spec into the IR; domains and operations come out in a stable order."""
    model = typemodel.build(spec.data)
    data = model.document
    root_security = data.get("security")
    by_domain: dict[str, list[Operation]] = {}
    for url, method, raw in operations(data):
        operation = _operation(data, url, method, raw, root_security)
        by_domain.setdefault(operation.domain, []).append(operation)
    domains = tuple(
        Domain(
            name=name,
            class_prefix=pascal_case(name),
            operations=tuple(sorted(ops, key=lambda op: op.operation_id)),
        )
        for name, ops in sorted(by_domain.items())
    )
    info = data.get("info", {})
    components = data.get("components") or {}
    return Api(
        title=str(info.get("title", "")),
        version=str(info.get("version", "")),
        spec_sha256=spec.sha256,
        schemas=dict(components.get("schemas") or {}),
        domains=domains,
        document=data,
        narrowed=model.narrowed,
        variants=model.variants,
        warnings=tuple(model.warnings),
    )


def _operation(
    data: Mapping[str, Any], url: str, method: str, raw: Mapping[str, Any], root_security: Any
) -> Operation:
    operation_id = str(raw["operationId"])
    merged: dict[tuple[str, str], Parameter] = {}
    # WHY: operation-level parameters override path-level ones with the same name and location.
    for source in (data["paths"][url].get("parameters") or [], raw.get("parameters") or []):
        for ref_or_param in source:
            param = _parameter(resolve(data, ref_or_param))
            merged[(param.location, param.name)] = param
    security = raw.get("security", root_security)
    domain = operation_domain(raw)
    return Operation(
        operation_id=operation_id,
        python_name=function_name(operation_id),
        class_prefix=pascal_case(operation_id),
        method=method.upper(),
        path=url,
        summary=raw.get("summary"),
        description=raw.get("description"),
        deprecated=bool(raw.get("deprecated", False)),
        tags=tuple(raw.get("tags") or ()),
        domain=domain,
        parameters=tuple(
            sorted(merged.values(), key=lambda p: PARAMETER_LOCATIONS.index(p.location))
        ),
        request_body=_request_body(data, raw.get("requestBody")),
        responses=_responses(data, raw.get("responses") or {}),
        security=None
        if security is None
        else tuple({k: tuple(v) for k, v in req.items()} for req in security),
        extensions={k: v for k, v in raw.items() if k.startswith("x-")},
    )


def _parameter(raw: Mapping[str, Any]) -> Parameter:
    schema = raw.get("schema") or {}
    location = str(raw["in"])
    resolved_default = schema.get("default") if isinstance(schema, dict) else None
    return Parameter(
        name=str(raw["name"]),
        python_name=field_name(str(raw["name"])),
        location=location,
        schema=schema,
        required=bool(raw.get("required", location == "path")),
        default=resolved_default,
        has_default=isinstance(schema, dict) and "default" in schema,
        description=raw.get("description"),
        deprecated=bool(raw.get("deprecated", False)),
    )


def _request_body(data: Mapping[str, Any], raw: Any) -> RequestBody | None:
    if raw is None:
        return None
    body = resolve(data, raw)
    content = body.get("content") or {}
    content_type = pick_request_content(content) if content else "application/octet-stream"
    media = resolve(data, content.get(content_type)) or {}
    return RequestBody(
        schema=media.get("schema"),
        required=bool(body.get("required", False)),
        content_type=content_type,
        description=body.get("description"),
    )


def _status_key(status: str) -> tuple[int, str]:
    if status.isdigit():
        return (int(status), status)
    if status.upper() in STATUS_RANGES:
        return (int(status[0]) * 100 + 99, status)
    return (1000, status)


def _responses(data: Mapping[str, Any], raw: Mapping[Any, Any]) -> tuple[Response, ...]:
    result = []
    for status in sorted((str(s) for s in raw), key=_status_key):
        response = resolve(data, raw[status] if status in raw else raw[int(status)])
        content: Mapping[str, Any] = response.get("content") or {}
        headers = tuple(
            _header(data, name, header)
            for name, header in sorted((response.get("headers") or {}).items())
            # The spec says a header named Content-Type is ignored: the media type sets it.
            if name.lower() != "content-type" and not _set_by_runtime(data, header)
        )
        types = _content_types(content)
        variants = _variants(types)
        choices: list[str | None] = [*types] if types else [None]
        for content_type in choices:
            media = resolve(data, content.get(content_type)) if content_type else None
            result.append(
                Response(
                    status=status,
                    description=response.get("description"),
                    content_type=content_type,
                    schema=media.get("schema") if isinstance(media, dict) else None,
                    headers=headers,
                    variant=variants.get(content_type or "", ""),
                )
            )
    return tuple(result)


def _content_types(content: Mapping[str, Any]) -> list[str]:
    """Every media type but problem+json; problem+json alone if nothing else is offered."""
    others = [str(t) for t in content if t != PROBLEM_CONTENT]
    if others:
        return others
    return [PROBLEM_CONTENT] if content else []


def _variants(types: list[str]) -> dict[str, str]:
    """Class name parts that tell several media types of one status apart: ``Json``, ``Csv``."""
    if len(types) < 2:
        return {}
    short = {t: pascal_case(t.split(";")[0].split("/")[-1]) for t in types}
    full = {t: pascal_case(t.split(";")[0]) for t in types}
    names = short if len(set(short.values())) == len(types) else full
    return {t: names[t] or f"Variant{i}" for i, t in enumerate(types)}


def _set_by_runtime(data: Mapping[str, Any], raw: Any) -> bool:
    """``x-set-by: runtime``: documented for clients, added by the runtime, not by a service."""
    header = resolve(data, raw)
    return isinstance(header, Mapping) and header.get("x-set-by") == "runtime"


def _header(data: Mapping[str, Any], name: str, raw: Any) -> Header:
    header = resolve(data, raw)
    return Header(
        name=name,
        python_name=field_name(name),
        schema=header.get("schema") or {},
        required=bool(header.get("required", False)),
        description=header.get("description"),
    )
