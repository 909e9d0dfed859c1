"""Maps each ``operationId`` to its generated adapter; the spec carries no Python paths."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from connexion.exceptions import ResolverError
from connexion.resolver import Resolver

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class RegistryError(Exception):
    """The generated registry does not serve the spec: start-up must fail, not every request."""


def check_registry(
    spec_path: Path,
    operations: Mapping[str, str],
    spec_sha256: str,
    derived_operation_ids: Mapping[str, str] | None = None,
) -> None:
    """Refuse a registry generated from another spec, or one that misses an adapter.

    ``derived_operation_ids`` is the registry's name for each operation the spec gives no
    operationId (``"GET /path"`` → name), chosen by codegen.

    WHY: Connexion resolves handlers lazily, when its middleware stack is first built; a bad
    registry would then answer every request, probes included, with a plain-text 500."""
    raw = spec_path.read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != spec_sha256:
        raise RegistryError(
            f"The generated registry was made from another {spec_path.name} (sha256 "
            f"{spec_sha256[:12]}, the file is {actual[:12]}); run `python -m codegen`."
        )
    spec = name_operations(yaml.safe_load(raw), derived_operation_ids or {})
    for template, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation_id = (item.get(method) or {}).get("operationId")
            if method in item and operation_id not in operations:
                raise RegistryError(
                    f"{method.upper()} {template} ({operation_id or 'no operationId'}) has no "
                    "adapter in the generated registry; run `python -m codegen`."
                )
    for operation_id in operations:
        try:
            _import(operations[operation_id])
        except (ImportError, AttributeError) as exc:
            target = operations[operation_id]
            raise RegistryError(f"Operation {operation_id!r} -> {target}: {exc}") from None


def name_operations(spec: dict[str, Any], derived: Mapping[str, str]) -> dict[str, Any]:
    """The spec with each operation it leaves unnamed given codegen's name, in place.

    Rate limits, traces and request logs then key such an operation as the registry does."""
    if not derived:
        return spec
    for template, item in (spec.get("paths") or {}).items():
        for method in HTTP_METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            name = derived.get(f"{method.upper()} {template}")
            if isinstance(operation, dict) and name and not operation.get("operationId"):
                operation["operationId"] = name
    return spec


def _import(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return function


class OperationResolver(Resolver):  # type: ignore[misc]
    """Resolves operations through the generated ``OPERATIONS`` registry (``module:function``)."""

    def __init__(
        self, operations: Mapping[str, str], derived_operation_ids: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self._operations = dict(operations)
        self._derived = dict(derived_operation_ids or {})

    def resolve_operation_id(self, operation: Any) -> str:
        """The spec's operationId, else the name codegen gave the operation.

        WHY: Connexion reads the spec file itself, so its operation has no operationId where
        the spec gives none; the name returned here becomes the operation's, routing included."""
        operation_id = operation.operation_id or self._derived.get(
            f"{operation.method.upper()} {operation.path}"
        )
        if not operation_id:
            raise ResolverError(
                f"{operation.method.upper()} {operation.path} has no operationId and no name in "
                "the generated registry; run `python -m codegen`."
            )
        return str(operation_id)

    def resolve_function_from_operation_id(self, operation_id: str) -> Callable[..., Any]:
        target = self._operations.get(operation_id)
        if target is None:
            raise ResolverError(
                f"Operation {operation_id!r} has no adapter; run `python -m codegen` to regenerate."
            )
        try:
            return _import(target)
        except (ImportError, AttributeError) as exc:
            raise ResolverError(f"Operation {operation_id!r} -> {target}: {exc}") from exc
