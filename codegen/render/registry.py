"""``operations.py``: the registry the runtime is built from, one entry per operation."""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Any
from urllib.parse import urlsplit

from codegen.ir import Api, Operation
from codegen.policies import deadline_s, idempotency_key, rate_limits

_REGISTRY = Template('''\
"""Handler of each operationId of $spec_name, for the runtime's resolver.

The spec carries no Python paths; this mapping is the only link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, TypedDict

# The spec this registry was generated from; start-up refuses any other.
SPEC_SHA256: Final = "$spec_sha256"

# The path of the first server URL, before every route.
BASE_PATH: Final = $base_path

OPERATIONS: Final[Mapping[str, str]] = {
$entries
}

# operationId -> (method, path template below BASE_PATH).
ROUTES: Final[Mapping[str, tuple[str, str]]] = {
$routes
}

# Path template -> its methods, HEAD wherever GET is: a 405's Allow, and CORS.
METHODS_BY_PATH: Final[Mapping[str, tuple[str, ...]]] = {
$allowed
}


class RateLimitPolicy(TypedDict):
    """``x-rate-limit``: limits like ``5/minute``, whose counter, and how to fail."""

    limits: tuple[str, ...]
    key: str  # "ip", "caller" or "body:<field>"
    fail: str  # "open" or "closed": what to do when the counter store is down


class OperationPolicy(TypedDict):
    """What the runtime enforces for an operation, declared in the spec."""

    authentication: str  # "required", "optional" or "none"
    scopes: tuple[tuple[str, ...], ...]  # any one of these sets of scopes suffices
    rate_limits: tuple[RateLimitPolicy, ...]  # every one must allow a request
    idempotent: bool
    idempotency_key: str  # "required", "optional" or "none"
    require_if_match: bool  # a write without If-Match is a 428
    deprecated: bool
    deadline_s: float | None  # x-deadline; None: the REQUEST_DEADLINE_S setting


POLICIES: Final[Mapping[str, OperationPolicy]] = {
$policies
}
''')


def render_registry(api: Api, spec: Mapping[str, Any], package: str, spec_name: str) -> str:
    """The text of ``operations.py``."""
    entries = "\n".join(
        f'    "{op.operation_id}": "{package}.{op.domain}.routes:{op.python_name}",'
        for op in api.operations
    )
    policies = "\n".join(f"    {op.operation_id!r}: {_policy(op, spec)}," for op in api.operations)
    routes = "\n".join(
        f"    {op.operation_id!r}: ({op.method!r}, {op.path!r})," for op in api.operations
    )
    allowed = "\n".join(
        f"    {path!r}: {methods!r}," for path, methods in _methods_by_path(api).items()
    )
    return _REGISTRY.substitute(
        spec_name=spec_name,
        spec_sha256=api.spec_sha256,
        base_path=repr(_base_path(spec)),
        entries=entries,
        routes=routes,
        allowed=allowed,
        policies=policies,
    )


def _base_path(spec: Mapping[str, Any]) -> str:
    servers = spec.get("servers") or [{"url": ""}]
    return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")


def _methods_by_path(api: Api) -> dict[str, tuple[str, ...]]:
    methods: dict[str, set[str]] = {}
    for op in api.operations:
        methods.setdefault(op.path, set()).add(op.method)
    for found in methods.values():
        # WHY: Flask and Starlette answer HEAD wherever GET is, documented or not.
        if "GET" in found:
            found.add("HEAD")
    return {path: tuple(sorted(found)) for path, found in sorted(methods.items())}


def _policy(op: Operation, document: Mapping[str, Any]) -> str:
    scopes = tuple(
        tuple(sorted({scope for scopes in req.values() for scope in scopes}))
        for req in op.security or ()
    )
    rate = "".join(
        f"{{'limits': {limit.limits!r}, 'key': {limit.key!r}, 'fail': {limit.fail!r}}},"
        for limit in rate_limits(op.extensions, document)
    )
    return (
        f"{{'authentication': {op.authentication!r}, 'scopes': {scopes!r}, "
        f"'rate_limits': ({rate}), 'idempotent': {idempotency_key(op.extensions) != 'none'!r}, "
        f"'idempotency_key': {idempotency_key(op.extensions)!r}, "
        f"'require_if_match': {op.extensions.get('x-require-if-match') is True!r}, "
        f"'deprecated': {op.deprecated!r}, 'deadline_s': {deadline_s(op.extensions)!r}}}"
    )
