"""Rewrite a loaded document before the IR: class names for components, lenient repairs."""

from __future__ import annotations

import copy
import functools
import json
import keyword
from collections.abc import Iterator, Mapping
from typing import Any

from codegen.document import lookup, mappings, operations
from codegen.errors import Issue, pointer
from codegen.naming import function_name, pascal_case, snake_case

COMPONENT_PREFIX = "#/components/schemas/"


def class_names(names: list[str]) -> dict[str, str]:
    """Component name → Python class name; names that already are PascalCase identifiers stay.

    ``Tree.Node`` → ``TreeNode``, ``Workflow--Mini`` → ``WorkflowMini``; clashes get a number."""
    result: dict[str, str] = {}
    taken = {name for name in names if _is_class_name(name)}
    for name in names:
        if _is_class_name(name):
            result[name] = name
            continue
        base = pascal_case(name) or "Schema"
        if base[0].isdigit():
            base = f"Schema{base}"
        if base in _RESERVED:
            base = f"{base}Model"
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}{number}"
        taken.add(candidate)
        result[name] = candidate
    return result


# Names the models module imports or defines itself, which a component must not take.
_RESERVED = frozenset(
    {"Annotated", "Any", "AwareDatetime", "Base64Str", "BaseModel", "ConfigDict", "Enum"}
    | {"Field", "IntEnum", "Literal", "RootModel", "StrEnum", "UUID", "SecretStr", "Optional"}
    # WHY: and the names schemas.py and routes.py import beside the components.
    | {"ApiResponse", "HeadersModel", "ParametersModel", "Principal", "RequestModel"}
    | {"ClassVar", "FileStorage", "NoReturn", "Protocol", "TypeAlias"}
)


def _is_class_name(name: str) -> bool:
    """Whether datamodel-code-generator keeps the name as it is: plain PascalCase."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and name[:1].isupper()
        and name == pascal_case(name)
        and name not in _RESERVED
    )


def rename_components(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the document whose component schema names are class names, refs rewritten."""
    components = data.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    if not isinstance(schemas, dict):
        return dict(data)
    mapping = class_names([str(name) for name in schemas])
    if all(old == new for old, new in mapping.items()):
        return dict(data)
    renamed = {escape(old): escape(new) for old, new in mapping.items() if old != new}
    result: dict[str, Any] = _rewrite(data, renamed)
    result["components"]["schemas"] = {
        mapping[str(name)]: schema for name, schema in result["components"]["schemas"].items()
    }
    return result


def escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _rewrite_ref(ref: str, renamed: Mapping[str, str]) -> str:
    if not ref.startswith(COMPONENT_PREFIX):
        return ref
    name, slash, rest = ref[len(COMPONENT_PREFIX) :].partition("/")
    return f"{COMPONENT_PREFIX}{renamed.get(name, name)}{slash}{rest}"


def _rewrite(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        result: dict[Any, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                result[key] = _rewrite_ref(value, renamed)
            elif key == "mapping" and isinstance(value, dict):
                result[key] = {
                    k: _rewrite_ref(v, renamed) if isinstance(v, str) else v
                    for k, v in value.items()
                }
            else:
                result[key] = _rewrite(value, renamed)
        return result
    if isinstance(node, list):
        return [_rewrite(item, renamed) for item in node]
    return node


_COERCE: dict[str, Any] = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": lambda value: {"true": True, "false": False}[str(value).lower()],
}


def lenient(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """Repair defaults and enum values whose JSON type contradicts their schema's ``type``.

    Real documents often say ``default: "20"`` on an integer. Each repair is a warning naming
    its location; a value that cannot be converted is left for validation to report."""
    result = copy.deepcopy(dict(data))
    return result, _repairs(result, fix=True)


def mismatches(data: Mapping[str, Any]) -> list[Issue]:
    """The located problems ``lenient`` would repair, as errors (the validator's own lack a
    location)."""
    return [
        Issue(issue.pointer, issue.message.removeprefix("lenient: ") + " (--lenient repairs it)")
        for issue in _repairs(data, fix=False)
    ]


def _repairs(data: Any, *, fix: bool) -> list[Issue]:
    warnings: list[Issue] = []
    for path, schema in _schemas(data):
        kind = schema.get("type")
        if kind not in _COERCE:
            continue
        # WHY: the validator accepts `default: null`, and so does pydantic (the field is optional).
        if schema.get("default") is not None and not _matches(schema["default"], kind):
            fixed = _convert(schema["default"], kind)
            repair = "dropped" if fixed is _FAILED else f"read as {json.dumps(fixed)}"
            warnings.append(
                Issue(
                    pointer((*path, "default")),
                    f"lenient: default {json.dumps(schema['default'])} is not of type "
                    f"{kind!r}; {repair}",
                )
            )
            if fix and fixed is _FAILED:
                del schema["default"]
            elif fix:
                schema["default"] = fixed
        values = schema.get("enum")
        items = schema.get("items")
        enum = items.get("enum") if kind == "array" and isinstance(items, dict) else values
        default = schema.get("default")
        wrong = (
            [default] if kind != "array" else (default if isinstance(default, list) else [default])
        )
        if (
            "default" in schema
            and isinstance(enum, list)
            and enum
            and any(v not in enum for v in wrong)
        ):
            warnings.append(
                Issue(
                    pointer((*path, "default")),
                    f"lenient: default {json.dumps(default)} is not one of the enum values; "
                    "dropped",
                )
            )
            if fix:
                del schema["default"]
    return warnings


_FAILED = object()


def _matches(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    return isinstance(value, bool)


def _convert(value: Any, kind: str) -> Any:
    if value is None or isinstance(value, dict | list):
        return _FAILED
    try:
        converted = _COERCE[kind](value)
    except (ValueError, KeyError, TypeError):
        return _FAILED
    if kind == "integer" and str(converted) != str(value).strip():
        return _FAILED
    return converted


def _schemas(node: Any, path: tuple[object, ...] = ()) -> Iterator[tuple[tuple[object, ...], Any]]:
    """Every mapping that has a ``type`` key, outside examples."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), str):
            yield path, node
        for key, value in node.items():
            if key in ("example", "examples"):
                continue
            yield from _schemas(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, (*path, index))


def normalize(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Issue]]:
    """Decisions codegen takes on any document, strict or lenient, each with a located warning.

    - an operation without ``operationId`` (it is optional) is named after its method and path;
    - ``default: null`` on a schema that is not ``nullable`` is read as no default (the field
      stays optional); ``nullable: false``, the default anyway, is dropped silently;
    - an array default with items outside ``items.enum`` (the validator does not look there)
      is dropped;
    - an enum value given twice is kept once (lint reports it).

    The document is copied only when something changes."""
    warnings = _operation_ids(data, fix=False) + _schema_decisions(data, fix=False)
    silent = any(True for _ in _explicit_not_nullable(data))
    if not warnings and not silent:
        return dict(data), []
    result = copy.deepcopy(dict(data))
    _operation_ids(result, fix=True)
    _schema_decisions(result, fix=True)
    return result, warnings


def _inner_refs(data: Any) -> Iterator[dict[str, Any]]:
    """References into a component (``#/components/schemas/Thing/properties/id``)."""
    for _, node in mappings(data):
        ref = node.get("$ref")
        if (
            isinstance(ref, str)
            and ref.startswith(COMPONENT_PREFIX)
            and "/" in ref[len(COMPONENT_PREFIX) :]
        ):
            yield node


def inline_inner_refs(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a validated document in which each reference into a component is replaced by
    a copy of its target, then typed inline like any property: datamodel-code-generator would
    make it a ``RootModel`` whose default it writes as a bare value, which mypy refuses."""
    if not any(True for _ in _inner_refs(data)):
        return dict(data)
    result = copy.deepcopy(dict(data))
    _inline(result)
    return result


def _inline(data: dict[str, Any]) -> None:
    for _ in range(8):  # a target may itself hold such references
        nodes = list(_inner_refs(data))
        if not nodes:
            return
        for node in nodes:
            target = lookup(data, node["$ref"])
            if isinstance(target, dict) and target is not node:
                node.clear()
                node.update(copy.deepcopy(target))


def derived_operation_id(method: str, url: str) -> str:
    """``get_images_upload`` for ``GET /images/upload``; ``{id}`` becomes ``by_id``."""
    parts = [method.lower()]
    for segment in url.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parts.append(f"by_{snake_case(segment[1:-1])}")
        elif snake_case(segment):
            parts.append(snake_case(segment))
    return "_".join(parts) if len(parts) > 1 else f"{parts[0]}_root"


def repeated_values(values: Any) -> list[str]:
    """The values an ``enum`` list holds more than once, as JSON (OpenAPI 3.0 allows it)."""
    if not isinstance(values, list):
        return []
    seen: set[str] = set()
    repeated: list[str] = []
    for text in map(_canonical, values):
        if text in seen and text not in repeated:
            repeated.append(text)
        seen.add(text)
    return repeated


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _operation_ids(data: Mapping[str, Any], *, fix: bool) -> list[Issue]:
    found = list(operations(data))
    taken = {str(op["operationId"]) for _, _, op in found if op.get("operationId") is not None}
    names = {function_name(name) for name in taken}
    warnings = []
    for url, method, operation in found:
        if operation.get("operationId") is not None:
            continue
        base = derived_operation_id(method, url)
        candidate, number = base, 1
        while candidate in taken or function_name(candidate) in names:
            number += 1
            candidate = f"{base}_{number}"
        taken.add(candidate)
        names.add(function_name(candidate))
        warnings.append(
            Issue(
                pointer(("paths", url, method)),
                f"no operationId; named {candidate!r} after the method and path, in the code "
                f"and at run time (add `operationId: {candidate}` to choose the name; lint "
                "reports the gap)",
            )
        )
        if fix and isinstance(operation, dict):
            operation["operationId"] = candidate
    return warnings


def _schema_decisions(data: Any, *, fix: bool) -> list[Issue]:
    warnings: list[Issue] = []
    for path, node in mappings(data):
        if "default" in node and node["default"] is None and node.get("nullable") is not True:
            warnings.append(
                Issue(
                    pointer((*path, "default")),
                    "default null on a schema that is not nullable; read as no default "
                    "(the field is optional)",
                )
            )
            if fix:
                del node["default"]
        items = node.get("items")
        default = node.get("default")
        if (
            node.get("type") == "array"
            and isinstance(items, dict)
            and isinstance(items.get("enum"), list)
            and isinstance(default, list)
            and any(value not in items["enum"] for value in default)
        ):
            warnings.append(
                Issue(
                    pointer((*path, "default")),
                    f"default {json.dumps(default)} has items that are not among the enum "
                    "values of `items`; dropped",
                )
            )
            if fix:
                del node["default"]
        values = node.get("enum")
        repeated = repeated_values(values)
        if repeated:
            warnings.append(
                Issue(
                    pointer((*path, "enum")),
                    f"enum values repeated ({', '.join(repeated)}); each is generated once",
                )
            )
            if fix and isinstance(values, list):
                node["enum"] = [json.loads(v) for v in dict.fromkeys(map(_canonical, values))]
        pattern = node.get("pattern")
        if isinstance(pattern, str) and not _rust_regex(pattern):
            warnings.append(
                Issue(
                    pointer((*path, "pattern")),
                    "pattern uses a construct pydantic's regex engine lacks (look-around, "
                    "backreferences); left out of the models (Connexion still checks requests "
                    "against it)",
                )
            )
            if fix:
                del node["pattern"]
    if fix:
        for _, node in list(_explicit_not_nullable(data)):
            del node["nullable"]
    return warnings


def _explicit_not_nullable(data: Any) -> Iterator[tuple[tuple[object, ...], dict[str, Any]]]:
    """Schemas that say ``nullable: false``, which datamodel-code-generator types as ``X = None``
    on an optional field; without it the field is ``X | None = None``, as every optional one."""
    for path, node in mappings(data):
        if node.get("nullable") is False:
            yield path, node


@functools.lru_cache(maxsize=4096)
def _rust_regex(pattern: str) -> bool:
    """Whether pydantic (its Rust regex engine) compiles ``pattern``; Python's ``re`` may not
    either, which the models would then reject at import time just the same."""
    from pydantic_core import SchemaError, SchemaValidator, core_schema

    try:
        SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError:
        return False
    return True
