"""Security declarations of openapi.yaml: every operation says who may call it. No I/O.

Also the spec walker the other ``test_security_*`` suites derive their cases from."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from codegen.spec import HTTP_METHODS

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
WRITE_METHODS = ("post", "put", "patch")


@cache
def spec() -> Mapping[str, Any]:
    document: Mapping[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return document


def resolve(node: Any) -> Any:
    """Follow local ``$ref``s until the node is no reference."""
    while isinstance(node, Mapping) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are supported, not {ref!r}"
        target: Any = spec()
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return str(self.operation.get("operationId") or f"{self.method.upper()} {self.path}")

    @property
    def parameters(self) -> list[Mapping[str, Any]]:
        item = spec()["paths"][self.path]
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*item.get("parameters", []), *self.operation.get("parameters", [])]:
            param = resolve(raw)
            merged[(param["in"], param["name"])] = param
        return list(merged.values())

    @property
    def path_parameters(self) -> list[str]:
        declared = [p["name"] for p in self.parameters if p["in"] == "path"]
        in_template = re.findall(r"\{([^}]+)\}", self.path)
        assert sorted(declared) == sorted(in_template), (self.id, declared, in_template)
        return in_template

    @property
    def security(self) -> list[Mapping[str, list[str]]] | None:
        if "security" in self.operation:
            value: list[Mapping[str, list[str]]] = self.operation["security"]
            return value
        top: list[Mapping[str, list[str]]] | None = spec().get("security")
        return top

    @property
    def required_scopes(self) -> set[str]:
        """Scopes a caller needs (the union over requirements when there is only one)."""
        requirements = self.security or []
        if len(requirements) != 1:
            return set()
        return {scope for scopes in requirements[0].values() for scope in scopes}

    @property
    def json_body(self) -> Mapping[str, Any] | None:
        """The request body's ``application/json`` media type object, if it takes one."""
        body = resolve(self.operation.get("requestBody"))
        if not isinstance(body, Mapping):
            return None
        media: Mapping[str, Any] | None = body.get("content", {}).get("application/json")
        return media

    def url(self, values: Mapping[str, str], base: str = "/api/v1") -> str:
        return base + re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], self.path)


def operations() -> Iterator[Operation]:
    for path, item in spec()["paths"].items():
        for method in HTTP_METHODS:
            if isinstance(item.get(method), Mapping):
                yield Operation(method, path, item[method])


def schema_example(media: Mapping[str, Any]) -> Any:
    """The media type's example, or the first of its examples, or None."""
    if "example" in media:
        return media["example"]
    examples = media.get("examples") or {}
    for example in examples.values():
        return resolve(example).get("value")
    schema = resolve(media.get("schema"))
    return schema.get("example") if isinstance(schema, Mapping) else None


# -- the tests -----------------------------------------------------------------------------------


def test_the_spec_has_operations_to_check() -> None:
    assert len(list(operations())) >= 15


def test_every_operation_declares_its_security_explicitly() -> None:
    """``security: []`` declares an operation public; an inherited default is not enough.

    WHY: a new operation must be a conscious decision, not whatever the document default is."""
    offenders = [
        f"{op.method.upper()} {op.path} ({op.id})"
        for op in operations()
        if "security" not in op.operation
    ]
    assert not offenders, "operations without an explicit `security` key:\n" + "\n".join(offenders)


def test_every_security_requirement_names_a_declared_scheme_and_scope() -> None:
    schemes = spec()["components"]["securitySchemes"]
    problems = []
    for op in operations():
        for requirement in op.operation.get("security", []):
            for name, scopes in requirement.items():
                if name not in schemes:
                    problems.append(f"{op.id}: unknown scheme {name!r}")
                    continue
                declared = {
                    scope
                    for flow in (schemes[name].get("flows") or {}).values()
                    for scope in (flow.get("scopes") or {})
                }
                problems += [
                    f"{op.id}: unknown scope {s!r} of {name!r}" for s in scopes if s not in declared
                ]
    assert not problems, "\n".join(problems)


def test_every_secured_operation_documents_a_401() -> None:
    offenders = [
        f"{op.method.upper()} {op.path} ({op.id})"
        for op in operations()
        if op.security and "401" not in op.operation.get("responses", {})
    ]
    assert not offenders, "secured operations without a 401 response:\n" + "\n".join(offenders)


def test_every_401_response_requires_a_www_authenticate_header() -> None:
    offenders = []
    for op in operations():
        response = resolve(op.operation.get("responses", {}).get("401"))
        if response is None:
            continue
        headers = {name.lower(): resolve(h) for name, h in (response.get("headers") or {}).items()}
        header = headers.get("www-authenticate")
        if not header or not header.get("required"):
            offenders.append(op.id)
    assert not offenders, f"401 responses without a required WWW-Authenticate: {offenders}"


def test_every_operation_with_scopes_documents_a_403() -> None:
    offenders = [
        op.id
        for op in operations()
        if op.required_scopes and "403" not in op.operation.get("responses", {})
    ]
    assert not offenders, f"scoped operations without a 403 response: {offenders}"


def test_public_operations_are_the_expected_few() -> None:
    """A public operation is a deliberate exception; adding one means updating this list."""
    public = sorted(op.id for op in operations() if op.security == [])
    assert public == sorted(
        # getMetrics is public in the spec and guarded by METRICS_ALLOW / METRICS_TOKEN.
        [
            *("getLiveness", "getReadiness", "getMetrics"),
            *("register", "createToken", "refreshToken", "getJwks"),
        ]
    )


def rate_limit_policies(operation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = operation.get("x-rate-limit")
    return list(value) if isinstance(value, list) else [value] if isinstance(value, Mapping) else []


def test_credential_operations_are_rate_limited_and_fail_closed() -> None:
    by_id = {op.id: op for op in operations()}
    for operation_id in ("register", "createToken"):
        policies = rate_limit_policies(by_id[operation_id].operation)
        assert policies, operation_id
        assert all(p.get("fail") == "closed" for p in policies), operation_id
    login_keys = {p["key"] for p in rate_limit_policies(by_id["createToken"].operation)}
    assert login_keys == {"body:email,username", "ip"}
    assert rate_limit_policies(by_id["refreshToken"].operation)


def test_the_security_scheme_accepts_only_the_authorization_header() -> None:
    schemes = spec()["components"]["securitySchemes"]
    for name, scheme in schemes.items():
        assert scheme["type"] in {"oauth2", "http"}, name
        assert scheme.get("in") not in {"query", "cookie"}, name
        assert "x-tokenInfoFunc" not in scheme and "x-tokenInfoUrl" not in scheme, name
