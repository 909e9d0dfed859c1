"""The generated operation registry: the runtime's one source of facts about operations.

``python -m codegen`` writes it (``app/modules/operations.py``) from the spec; the runtime
reads the routes, methods, policies and adapters from it and never parses the spec itself."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from connexion.exceptions import ResolverError
from connexion.resolver import Resolver


class RegistryError(Exception):
    """The generated registry does not serve the spec: start-up must fail, not every request."""


@dataclass(frozen=True)
class Registry:
    """What the generator knows of every operation, as the runtime consumes it."""

    spec_sha256: str
    base_path: str  # e.g. "/api/v1"
    operations: Mapping[str, str]  # operationId -> "module:function"
    routes: Mapping[str, tuple[str, str]]  # operationId -> (METHOD, template below base_path)
    methods_by_path: Mapping[str, tuple[str, ...]]  # template -> methods, HEAD with GET
    policies: Mapping[str, Mapping[str, Any]]  # operationId -> the generated OperationPolicy

    @classmethod
    def from_module(cls, module: ModuleType) -> Registry:
        """The registry a generated ``operations`` module holds."""
        return cls(
            spec_sha256=module.SPEC_SHA256,
            base_path=module.BASE_PATH,
            operations=module.OPERATIONS,
            routes=module.ROUTES,
            methods_by_path=module.METHODS_BY_PATH,
            policies=module.POLICIES,
        )

    def route_templates(self) -> dict[str, str]:
        """operationId -> its full route template (``/api/v1/projects/{project_id}``)."""
        return {op: self.base_path + path for op, (_, path) in self.routes.items()}

    def methods(self) -> list[str]:
        """Every method some path answers, for CORS."""
        return sorted({m for methods in self.methods_by_path.values() for m in methods})

    def operation_at(self, method: str, path: str) -> str | None:
        """The operationId of ``METHOD path`` (a template below the base path), if any."""
        return next((op for op, route in self.routes.items() if route == (method, path)), None)


def check_registry(spec_path: Path, registry: Registry) -> None:
    """Refuse a registry generated from another spec, or one that misses an adapter.

    WHY: Connexion resolves handlers lazily, when its middleware stack is first built; a bad
    registry would then answer every request, probes included, with a plain-text 500."""
    actual = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    if actual != registry.spec_sha256:
        raise RegistryError(
            f"The generated registry was made from another {spec_path.name} (sha256 "
            f"{registry.spec_sha256[:12]}, the file is {actual[:12]}); run `python -m codegen`."
        )
    operations = registry.operations
    for operation_id, (method, template) in registry.routes.items():
        if operation_id not in operations:
            raise RegistryError(
                f"{method} {template} ({operation_id}) has no adapter in the generated "
                "registry; run `python -m codegen`."
            )
    for operation_id in operations:
        try:
            _import(operations[operation_id])
        except (ImportError, AttributeError) as exc:
            target = operations[operation_id]
            raise RegistryError(f"Operation {operation_id!r} -> {target}: {exc}") from None


def _import(target: str) -> Callable[..., Any]:
    module_name, _, attribute = target.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return function


class OperationResolver(Resolver):  # type: ignore[misc]
    """Resolves operations through the generated registry's adapters (``module:function``)."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self._registry = registry
        self._operations = dict(registry.operations)

    def resolve_operation_id(self, operation: Any) -> str:
        """The spec's operationId, else the name codegen gave the operation's route.

        WHY: Connexion reads the spec file itself, so its operation has no operationId where
        the spec gives none; the name returned here becomes the operation's, routing included."""
        method = operation.method.upper()
        operation_id = operation.operation_id or self._registry.operation_at(method, operation.path)
        if not operation_id:
            raise ResolverError(
                f"{method} {operation.path} has no operationId and no name in the generated "
                "registry; run `python -m codegen`."
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
