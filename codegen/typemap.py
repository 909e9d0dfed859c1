"""JSON Schema → Python type expressions and pydantic ``Field`` arguments, for generated code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from codegen.spec import lookup

COMPONENT_PREFIX = "#/components/schemas/"

_FORMATS = {
    "uuid": ("uuid", "UUID"),
    "date-time": ("datetime", "datetime"),
    "date": ("datetime", "date"),
    "binary": (None, "bytes"),
}
_PRIMITIVES = {"integer": "int", "number": "float", "boolean": "bool", "string": "str"}


@dataclass
class Imports:
    """What a generated module needs: ``from module import name`` pairs and component names."""

    names: set[tuple[str, str]] = field(default_factory=set)
    components: set[str] = field(default_factory=set)

    def add(self, module: str, name: str) -> str:
        self.names.add((module, name))
        return name

    def lines(self, components_module: str) -> list[str]:
        by_module: dict[str, set[str]] = {}
        for module, name in self.names:
            by_module.setdefault(module, set()).add(name)
        if self.components:
            by_module.setdefault(components_module, set()).update(self.components)
        return [
            f"from {module} import {', '.join(sorted(names))}"
            for module, names in sorted(by_module.items())
        ]


class TypeMapper:
    """Maps schemas to type expressions, recording the imports they need."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        imports: Imports,
        variants: Mapping[str, str] | None = None,
        *,
        leaves_out: str | None = None,
    ) -> None:
        self.spec = spec
        self.imports = imports
        # Component → the class of its use here (``ThingRequest`` in a request), as the type
        # model named it; a component without readOnly/writeOnly fields at any depth has none.
        self.variants = variants or {}
        # "readOnly" in requests, "writeOnly" in responses: properties not sent there.
        self.leaves_out = leaves_out

    def left_out(self, schema: Any) -> bool:
        """Whether a property of an inline body is not sent here (see ``leaves_out``)."""
        mark = self.leaves_out
        if mark is None or not isinstance(schema, Mapping):
            return False
        return schema.get(mark) is True or self.target(schema).get(mark) is True

    def variant_of(self, name: str) -> str:
        """``ThingRequest`` for ``Thing`` when readOnly/writeOnly fields split it in two."""
        return self.variants.get(name, name)

    def component(self, schema: Mapping[str, Any]) -> str | None:
        """The component class name a schema refers to, if it is a component ``$ref``.

        A reference into a component (``#/components/schemas/Thing/properties/id``) names no
        class: its target is typed inline."""
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
            name = ref[len(COMPONENT_PREFIX) :]
            return None if "/" in name else name
        return None

    def target(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """The schema itself, or what its ``$ref`` points to."""
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < 32:
            found = lookup(self.spec, schema["$ref"])
            if not isinstance(found, dict):
                break
            schema, seen = found, seen + 1
        return schema

    def is_enum_component(self, name: str) -> bool:
        return "enum" in self.target({"$ref": COMPONENT_PREFIX + name})

    def type_of(self, schema: Mapping[str, Any] | None) -> str:
        """The annotation for values of ``schema``; ``nullable`` adds ``| None``."""
        if not schema:
            return self.imports.add("typing", "Any")
        base = self._base_type(schema)
        if schema.get("nullable") is True and not base.endswith("| None") and base != "Any":
            return f"{base} | None"
        return base

    def _base_type(self, schema: Mapping[str, Any]) -> str:
        name = self.component(schema)
        if name is not None:
            name = self.variant_of(name)
            self.imports.components.add(name)
            return name
        if "$ref" in schema:
            return self.type_of(self.target(schema))
        for key in ("oneOf", "anyOf"):
            if isinstance(schema.get(key), list):
                members = list(dict.fromkeys(self.type_of(s) for s in schema[key]))
                return " | ".join(members)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            return self.type_of(all_of[0])
        kind = schema.get("type")
        if "enum" in schema and kind in (None, "string", "integer", "number", "boolean"):
            literal = self.imports.add("typing", "Literal")
            values = ", ".join(repr(v) for v in schema["enum"] if v is not None)
            return f"{literal}[{values}]"
        if kind == "string" and schema.get("format") in _FORMATS:
            module, type_name = _FORMATS[schema["format"]]
            return self.imports.add(module, type_name) if module else type_name
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        if kind == "array":
            return f"list[{self.type_of(schema.get('items'))}]"
        if kind == "object" or "properties" in schema or "additionalProperties" in schema:
            extra = schema.get("additionalProperties")
            value = self.type_of(extra) if isinstance(extra, dict) and extra else "Any"
            if value == "Any":
                self.imports.add("typing", "Any")
            return f"dict[str, {value}]"
        return self.imports.add("typing", "Any")

    def default_expr(self, schema: Mapping[str, Any], value: Any) -> str:
        """A Python expression for a spec default, typed like the field."""
        name = self.component(schema)
        if name is not None and self.is_enum_component(name) and value is not None:
            return f"{name}({value!r})"
        return repr(value)


def constraints(schema: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``Field`` keyword arguments for the validation keywords of an inline schema."""
    result: list[tuple[str, str]] = []
    if "$ref" in schema:
        return result
    kind = schema.get("type")
    if kind in ("integer", "number"):
        if "minimum" in schema:
            result.append(
                ("gt" if schema.get("exclusiveMinimum") else "ge", repr(schema["minimum"]))
            )
        if "maximum" in schema:
            result.append(
                ("lt" if schema.get("exclusiveMaximum") else "le", repr(schema["maximum"]))
            )
        if "multipleOf" in schema:
            result.append(("multiple_of", repr(schema["multipleOf"])))
    elif kind == "string" and schema.get("format") not in _FORMATS and "enum" not in schema:
        if "minLength" in schema:
            result.append(("min_length", repr(schema["minLength"])))
        if "maxLength" in schema:
            result.append(("max_length", repr(schema["maxLength"])))
        if "pattern" in schema:
            result.append(("pattern", _string(schema["pattern"])))
    elif kind == "array":
        if "minItems" in schema:
            result.append(("min_length", repr(schema["minItems"])))
        if "maxItems" in schema:
            result.append(("max_length", repr(schema["maxItems"])))
    return result


def _string(value: str) -> str:
    """A string literal; raw when that keeps a regex readable and is still exact."""
    if "\\" in value and '"' not in value and "\n" not in value and not value.endswith("\\"):
        return f'r"{value}"'
    return repr(value)
