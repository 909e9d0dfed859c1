"""Maps each ``operationId`` to its generated adapter; the spec carries no Python paths."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from connexion.exceptions import ResolverError
from connexion.resolver import Resolver


class OperationResolver(Resolver):  # type: ignore[misc]
    """Resolves operations through the generated ``OPERATIONS`` registry (``module:function``)."""

    def __init__(self, operations: Mapping[str, str]) -> None:
        super().__init__()
        self._operations = dict(operations)

    def resolve_operation_id(self, operation: Any) -> str:
        operation_id = operation.operation_id
        if not operation_id:
            raise ResolverError(f"{operation.method.upper()} {operation.path} has no operationId.")
        return str(operation_id)

    def resolve_function_from_operation_id(self, operation_id: str) -> Callable[..., Any]:
        target = self._operations.get(operation_id)
        if target is None:
            raise ResolverError(
                f"Operation {operation_id!r} has no adapter; run `python -m codegen` to regenerate."
            )
        module_name, _, attribute = target.partition(":")
        try:
            function: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ResolverError(f"Operation {operation_id!r} -> {target}: {exc}") from exc
        return function
