"""The type model: every schema the document reaches gets a class name from where it stands.

``build`` walks the components, ``components/responses``, ``requestBodies``, ``parameters``
and ``headers``, then every operation, and lifts each inline schema that needs a class (an
object with properties, an enum, an ``allOf`` of several parts) into ``components/schemas``
under a name made of its position: ``IncidentCreate.incident`` → ``IncidentCreateIncident``,
the enum of ``ContactMethod.type`` → ``ContactMethodType``, the items of ``Page.items`` →
``PageItem``. What is left for the renderers is a document whose every class-worthy schema is
a ``$ref`` to a named component, so no name is decided anywhere else and nothing nested falls
back to ``dict[str, Any]``.

Names are claimed in one place (``_Names``), in document order: a component the spec names
keeps its name unless a generated type of an operation needs it (``AccountsGetRequest`` beside
``accountsGet``), then it becomes ``AccountsGetRequestSchema``; each such rename is a located
warning, never a refusal.

readOnly/writeOnly: every component that reaches a readOnly property, at any depth (a
``$ref``, an array of them, an ``allOf`` base), gets a request variant beside it
(``ThingPageRequest``, with ``items: list[ThingRequest]``) and likewise a response variant for
writeOnly ones; ``variants`` maps each component to them, for the renderers.

``allOf`` narrowing: a child that restates a base property's enum with fewer values gets a
``Literal`` of the base enum's members (``Literal[ContactMethodType.email]``), which mypy
accepts as an override; ``narrowed`` maps each such name to its base enum and values."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from codegen.errors import Issue, pointer
from codegen.naming import pascal_case
from codegen.prepare import _RESERVED, COMPONENT_PREFIX, escape
from codegen.spec import HTTP_METHODS, PROBLEM_CONTENT

# Keys that describe a use of a type rather than the type: they stay beside the `$ref`.
_USE_KEYS = frozenset(
    {"default", "nullable", "readOnly", "writeOnly", "deprecated", "example", "examples"}
)
# Generated types of an operation, as render names them (`{Prefix}{suffix}`).
_OPERATION_SUFFIXES = ("Path", "Query", "Header", "Cookie", "Request", "RequestBody", "Response")


@dataclass(frozen=True)
class Narrowing:
    """An enum restated in an ``allOf`` child with a subset of its base's values."""

    base: str
    values: tuple[Any, ...]


@dataclass
class TypeModel:
    """The document with every class-worthy schema named, and what naming decided."""

    document: dict[str, Any]
    warnings: list[Issue] = field(default_factory=list)
    # Hoisted name → the pointer of the schema it came from.
    origins: dict[str, str] = field(default_factory=dict)
    narrowed: dict[str, Narrowing] = field(default_factory=dict)
    # "Request"/"Response" → component → the class of its use in a request or a response.
    variants: dict[str, dict[str, str]] = field(default_factory=dict)


def build(data: Mapping[str, Any]) -> TypeModel:
    """Name every schema of a validated document (see the module docstring)."""
    document = copy.deepcopy(dict(data))
    components = document.setdefault("components", {})
    if not isinstance(components.get("schemas"), dict):
        components["schemas"] = {}
    model = TypeModel(document)
    names = _Names(model, _operation_names(document))
    _claim_components(document, names)
    _Hoister(model, names).run()
    _narrow(model)
    _drop_unused(model)
    _add_variants(model, names)
    return model


class _Names:
    """Every class name of the output, claimed once; the one place clashes are settled."""

    def __init__(self, model: TypeModel, generated: dict[str, str]) -> None:
        self.model = model
        self.generated = generated
        self.taken: set[str] = set(_RESERVED) | set(generated)
        self.claimed: set[str] = set()

    def release(self, name: str) -> None:
        """A generated name render will not use after all."""
        if name in self.generated and name not in self.claimed:
            self.taken.discard(name)

    def claim(self, wanted: str, where: str, *, kind: str, first: str | None = None) -> str:
        """``wanted``, or ``first`` when that is free (a singular item name); else a suffix."""
        base = wanted if wanted[:1].isalpha() else f"Schema{wanted}"
        if first is not None and first not in self.taken:
            self.taken.add(first)
            self.claimed.add(first)
            return first
        candidate = base
        if candidate in self.taken:
            candidate = f"{base}{kind}"
        number = 1
        while candidate in self.taken:
            number += 1
            candidate = f"{base}{kind}{number}"
        self.taken.add(candidate)
        self.claimed.add(candidate)
        if candidate != base:
            owner = self.generated.get(base)
            why = "another type"
            if owner is not None and owner.startswith("components/"):
                why = f"a readOnly/writeOnly variant of {owner.rsplit('/', 1)[-1]!r}"
            elif owner is not None:
                why = f"a generated type of {owner!r}"
            self.model.warnings.append(
                Issue(where, f"type {base!r} renamed {candidate!r}: {why} has that name")
            )
        return candidate


def _operation_names(document: Mapping[str, Any]) -> dict[str, str]:
    """The class names render gives each operation's types, with the operationId they serve."""
    result: dict[str, str] = {}
    for _, _, operation in _operations(document):
        operation_id = str(operation.get("operationId", ""))
        prefix = pascal_case(operation_id)
        for suffix in _OPERATION_SUFFIXES:
            result[f"{prefix}{suffix}"] = operation_id
        for status in operation.get("responses") or {}:
            name = f"{prefix}{str(status).capitalize()}"
            for extra in ("", "Body", "Headers"):
                result[f"{name}{extra}"] = operation_id
    return result


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for url, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            if isinstance(item.get(method), dict):
                yield str(url), method, item[method]


def _claim_components(document: dict[str, Any], names: _Names) -> None:
    """Spec-named components keep their names unless a generated type needs one."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    for variant, mark in _VARIANTS.items():
        # ThingRequest (no readOnly fields) goes beside Thing, and beside every component
        # that reaches Thing; a component of the spec with that name gives way.
        for name in _reaching(schemas, mark):
            names.generated.setdefault(f"{name}{variant}", f"components/schemas/{name}")
            names.taken.add(f"{name}{variant}")
    renamed: dict[str, str] = {}
    for name in schemas:
        new = names.claim(str(name), pointer(("components", "schemas", name)), kind="Schema")
        if new != name:
            renamed[escape(str(name))] = escape(new)
    if not renamed:
        return
    document["components"]["schemas"] = {
        (_unescape(renamed.get(escape(str(k)), escape(str(k))))): v for k, v in schemas.items()
    }
    rewrite_refs(document, renamed)


# A variant → the mark of the properties it leaves out (OpenAPI 3.0: a readOnly property is
# not sent in a request, a writeOnly one not in a response).
_VARIANTS = {"Request": "readOnly", "Response": "writeOnly"}


def _marked(schemas: Mapping[str, Any], schema: Any, mark: str) -> bool:
    """A property left out of a variant: marked itself, or a ``$ref`` to a marked component."""
    if not isinstance(schema, dict):
        return False
    if schema.get(mark) is True:
        return True
    target = schemas.get(_component(schema) or "")
    return isinstance(target, dict) and target.get(mark) is True


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object inside ``node``, ``node`` included, without following ``$ref``s."""
    if not isinstance(node, dict):
        return
    yield node
    properties = node.get("properties")
    for value in properties.values() if isinstance(properties, dict) else ():
        yield from _walk(value)
    for key in ("items", "additionalProperties", "not"):
        yield from _walk(node.get(key))
    for key in ("allOf", "oneOf", "anyOf"):
        parts = node.get(key)
        for part in parts if isinstance(parts, list) else ():
            yield from _walk(part)


def _reaching(schemas: Mapping[str, Any], mark: str) -> list[str]:
    """The components, in order, whose values hold a ``mark``ed property at any depth."""
    refs: dict[str, set[str]] = {}
    found: set[str] = set()
    for name, schema in schemas.items():
        nodes = list(_walk(schema))
        refs[str(name)] = {c for n in nodes if (c := _component(n)) is not None}
        own = (
            value
            for n in nodes
            if isinstance(n.get("properties"), dict)
            for value in n["properties"].values()
        )
        if any(_marked(schemas, value, mark) for value in own):
            found.add(str(name))
    grown = True
    while grown:
        grown = False
        for name, targets in refs.items():
            if name not in found and targets & found:
                found.add(name)
                grown = True
    return [str(name) for name in schemas if str(name) in found]


def _add_variants(model: TypeModel, names: _Names) -> None:
    """A request and a response class for every component a readOnly or writeOnly property
    reaches, at any depth: ``ThingPageRequest`` has ``items: list[ThingRequest]``."""
    schemas: dict[str, Any] = model.document["components"]["schemas"]
    added: dict[str, dict[str, Any]] = {}
    for variant, mark in _VARIANTS.items():
        chosen: dict[str, str] = {}
        for name in _reaching(schemas, mark):
            wanted, owner = f"{name}{variant}", f"components/schemas/{name}"
            if names.generated.get(wanted) == owner and wanted not in names.claimed:
                names.claimed.add(wanted)
                chosen[name] = wanted
            else:
                where = pointer(("components", "schemas", name))
                chosen[name] = names.claim(wanted, where, kind="Variant")
        model.variants[variant] = chosen
        for name, new in chosen.items():
            added.setdefault(name, {})[new] = _variant(schemas, name, mark, chosen)
    ordered: dict[str, Any] = {}
    for name, schema in schemas.items():
        ordered[name] = schema
        ordered.update(added.get(str(name), {}))
    schemas.clear()
    schemas.update(ordered)


def _variant(
    schemas: Mapping[str, Any], name: str, mark: str, chosen: Mapping[str, str]
) -> dict[str, Any]:
    """Component ``name`` without its ``mark``ed properties, its references to variants."""
    schema: dict[str, Any] = copy.deepcopy(schemas[name])
    # Inherited marked properties are not required of the variant either.
    inherited = _base_properties(schemas, COMPONENT_PREFIX + escape(name), depth=0)
    dropped = {prop for prop, value in inherited.items() if _marked(schemas, value, mark)}
    for node in list(_walk(schema)):
        properties = node.get("properties")
        gone = dropped if node is schema or _is_part(schema, node) else set()
        if isinstance(properties, dict):
            own = {p for p, v in properties.items() if _marked(schemas, v, mark)}
            node["properties"] = {p: v for p, v in properties.items() if p not in own}
            gone = gone | own
        if gone and isinstance(node.get("required"), list):
            node["required"] = [r for r in node["required"] if r not in gone]
            if not node["required"]:
                del node["required"]
        _point_at_variants(node, chosen)
    return schema


def _is_part(schema: Mapping[str, Any], node: Any) -> bool:
    return any(part is node for part in schema.get("allOf") or [])


def _point_at_variants(node: dict[str, Any], chosen: Mapping[str, str]) -> None:
    """Rewrite a ``$ref`` (and a discriminator) to the variants of its targets."""
    target = _component(node)
    if target is not None and target in chosen:
        node["$ref"] = COMPONENT_PREFIX + escape(chosen[target])
    discriminator = node.get("discriminator")
    if not isinstance(discriminator, dict):
        return
    mapping = discriminator.get("mapping")
    mapping = dict(mapping) if isinstance(mapping, dict) else {}
    for key, ref in list(mapping.items()):
        name = _component({"$ref": ref})
        if name is not None and name in chosen:
            mapping[key] = COMPONENT_PREFIX + escape(chosen[name])
    members = [_component(o) for k in ("oneOf", "anyOf") for o in node.get(k) or []]
    named = {_component({"$ref": ref}) for ref in (discriminator.get("mapping") or {}).values()}
    for member in members:
        # WHY: without a mapping, the value is the schema's name, which the variant's is not.
        if member is not None and member in chosen and member not in named:
            mapping.setdefault(member, COMPONENT_PREFIX + escape(chosen[member]))
    if mapping:
        discriminator["mapping"] = mapping


def _unescape(name: str) -> str:
    return name.replace("~1", "/").replace("~0", "~")


def rewrite_refs(node: Any, renamed: Mapping[str, str]) -> None:
    """Point every ``$ref`` (and discriminator mapping) at a renamed component, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                node[key] = _renamed_ref(value, renamed)
            elif key == "mapping" and isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, str):
                        value[k] = _renamed_ref(v, renamed)
            else:
                rewrite_refs(value, renamed)
    elif isinstance(node, list):
        for item in node:
            rewrite_refs(item, renamed)


def _renamed_ref(ref: str, renamed: Mapping[str, str]) -> str:
    if not ref.startswith(COMPONENT_PREFIX):
        return ref
    name, slash, rest = ref[len(COMPONENT_PREFIX) :].partition("/")
    return f"{COMPONENT_PREFIX}{renamed.get(name, name)}{slash}{rest}"


def _is_object(schema: Mapping[str, Any]) -> bool:
    properties = schema.get("properties")
    return (
        isinstance(properties, dict)
        and bool(properties)
        and schema.get("type", "object") == "object"
    )


def _is_enum(schema: Mapping[str, Any]) -> bool:
    values = schema.get("enum")
    if not isinstance(values, list) or not values:
        return False
    present = [v for v in values if v is not None]
    kind = schema.get("type")
    if kind in (None, "string"):
        return bool(present) and all(isinstance(v, str) for v in present)
    if kind == "integer":
        return bool(present) and all(type(v) is int for v in present)
    if kind == "number":
        return bool(present) and all(type(v) in (int, float) for v in present)
    return False


def _is_composite(schema: Mapping[str, Any]) -> bool:
    """An ``allOf`` that makes a class of its own (not the one-``$ref`` "typed like" idiom)."""
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not parts:
        return False
    inline = any(isinstance(p, dict) and "$ref" not in p for p in parts)
    return len(parts) > 1 or inline or isinstance(schema.get("properties"), dict)


class _Hoister:
    """Walks every schema position once and lifts the class-worthy ones into components."""

    def __init__(self, model: TypeModel, names: _Names) -> None:
        self.model = model
        self.names = names
        self.schemas: dict[str, Any] = model.document["components"]["schemas"]
        self.hoisted: dict[str, Any] = {}

    def run(self) -> None:
        document = self.model.document
        ordered: dict[str, Any] = {}
        for name in list(self.schemas):
            where = ("components", "schemas", name)
            schema = self.visit(self.schemas[name], str(name), where, top=True)
            # A component's own types come just before it, so the spec's order is kept.
            ordered.update(self.hoisted)
            self.hoisted.clear()
            ordered[name] = schema
        self.schemas.clear()
        self.schemas.update(ordered)
        components = document["components"]
        for section, suffix in (("responses", "Response"), ("requestBodies", "Body")):
            for name, item in (components.get(section) or {}).items():
                self._bodies(item, pascal_case(str(name)) + suffix, (("components", section, name)))
        for section, suffix in (("parameters", "Parameter"), ("headers", "Header")):
            for name, item in (components.get(section) or {}).items():
                self._parameter(
                    item, pascal_case(str(name)) + suffix, ("components", section, name)
                )
        for url, method, operation in _operations(document):
            self._operation(url, method, operation)
        # Hoisted types follow the spec's own, in the order they were found.
        self.schemas.update(self.hoisted)

    def _operation(self, url: str, method: str, operation: dict[str, Any]) -> None:
        prefix = pascal_case(str(operation.get("operationId", "")))
        where: tuple[object, ...] = ("paths", url, method)
        for index, parameter in enumerate(operation.get("parameters") or []):
            if isinstance(parameter, dict) and "$ref" not in parameter:
                name = prefix + pascal_case(str(parameter.get("name", "")))
                self._parameter(parameter, name, (*where, "parameters", index))
        body = operation.get("requestBody")
        if isinstance(body, dict) and "$ref" not in body:
            self._bodies(body, f"{prefix}RequestBody", (*where, "requestBody"), top_inline=True)
        for status, response in (operation.get("responses") or {}).items():
            if isinstance(response, dict) and "$ref" not in response:
                name = f"{prefix}{str(status).capitalize()}"
                self._bodies(
                    response, f"{name}Body", (*where, "responses", status), top_inline=True
                )
                for header, raw in (response.get("headers") or {}).items():
                    if isinstance(raw, dict) and "$ref" not in raw:
                        self._parameter(
                            raw,
                            f"{name}Headers{pascal_case(str(header))}",
                            (*where, "responses", status, "headers", header),
                        )

    def _bodies(
        self, item: Any, name: str, where: tuple[object, ...], *, top_inline: bool = False
    ) -> None:
        """The media types of a request body or response.

        An operation's own inline object body stays inline (render names it); a shared one in
        ``components/responses`` becomes one component, not a copy per operation."""
        if not isinstance(item, dict):
            return
        content = item.get("content") or {}
        several = len([t for t in content if t != PROBLEM_CONTENT]) > 1
        for media_type, media in content.items():
            if not isinstance(media, dict) or not isinstance(media.get("schema"), dict):
                continue
            hint = name
            if several:
                hint = name.removesuffix("Body") + pascal_case(str(media_type).split("/")[-1])
                hint += "Body" if name.endswith("Body") else ""
            position = (*where, "content", media_type, "schema")
            schema = media["schema"]
            if top_inline and _is_object(schema) and not _is_composite(schema):
                # WHY: properties without `type` are an object here as everywhere; render
                # names an inline body class only for an explicit one.
                media["schema"] = {
                    "type": "object",
                    **self.visit(schema, hint, position, top=True, enums=False),
                }
            else:
                if top_inline:
                    # WHY: render names an inline body class only when the body stays inline;
                    # lifted (an allOf), the body's component takes that name.
                    self.names.release(hint)
                media["schema"] = self.child(schema, hint, position, enums=top_inline is False)

    def _parameter(self, item: Any, name: str, where: tuple[object, ...]) -> None:
        if isinstance(item, dict) and isinstance(item.get("schema"), dict):
            item["schema"] = self.child(item["schema"], name, (*where, "schema"), enums=False)

    def child(
        self, schema: Any, hint: str, where: tuple[object, ...], *, enums: bool = True
    ) -> Any:
        """A schema in a position of its own: lifted when it needs a class, else walked."""
        schema = _plain_ref(schema)
        if isinstance(schema, dict) and "$ref" in schema and {"type", "format"} & set(schema):
            # WHY: OpenAPI 3.0 ignores a $ref's siblings; datamodel-code-generator reads
            # `type: string` beside an enum's $ref as a new, numbered enum (Category1).
            schema = {k: v for k, v in schema.items() if k not in ("type", "format")}
        if not isinstance(schema, dict) or "$ref" in schema:
            return schema
        lift = _is_object(schema) or _is_composite(schema) or (enums and _is_enum(schema))
        if not lift:
            return self.visit(schema, hint, where, enums=enums)
        kind = "Enum" if _is_enum(schema) and not _is_object(schema) else "Model"
        name = self.names.claim(hint, pointer(where), kind=kind, first=_singular(hint))
        core = {k: v for k, v in schema.items() if k not in _USE_KEYS}
        use = {k: v for k, v in schema.items() if k in _USE_KEYS}
        if kind == "Enum" and None in core["enum"]:
            core["enum"] = [v for v in core["enum"] if v is not None]
            use["nullable"] = True
        if kind == "Enum" and "description" in core:
            use["description"] = core["description"]
        self.model.origins[name] = pointer(where)
        self.hoisted[name] = {}  # claims the position before the children are named
        self.hoisted[name] = self.visit(core, name, where, top=True)
        return {"$ref": COMPONENT_PREFIX + escape(name), **use}

    def option(self, schema: Any, hint: str, where: tuple[object, ...], *, enums: bool) -> Any:
        """A oneOf/anyOf member; a constrained scalar is a class of its own too, which
        datamodel-code-generator would otherwise number (``Thing1``)."""
        scalar = isinstance(schema, dict) and schema.get("type") in _SCALARS
        if scalar and "enum" not in schema and set(schema) - _PLAIN_SCALAR:
            name = self.names.claim(hint, pointer(where), kind="Value")
            self.model.origins[name] = pointer(where)
            self.hoisted[name] = dict(schema)
            return {"$ref": COMPONENT_PREFIX + escape(name)}
        return self.child(schema, hint, where, enums=enums)

    def _options(
        self,
        options: list[Any],
        key: str,
        hint: str,
        where: tuple[object, ...],
        result: dict[str, Any],
        *,
        enums: bool,
    ) -> list[Any]:
        """The members of a oneOf/anyOf, each named; the OpenAPI 3.0 "null schema" among them
        (an object that may hold nothing, or null) is read as the others being nullable."""
        nulls = [i for i, o in enumerate(options) if _null_only(o)]
        if nulls and len(nulls) < len(options):
            result["nullable"] = True
            self.model.warnings.append(
                Issue(
                    pointer((*where, key, nulls[0])),
                    "an object that holds nothing, or null, read as null: typed `| None` "
                    "(`{}` passes validation but not the model)",
                )
            )
        else:
            nulls = []
        return [
            self.option(option, hint + _option(option, i), (*where, key, i), enums=enums)
            for i, option in enumerate(options)
            if i not in nulls
        ]

    def visit(
        self,
        schema: Any,
        hint: str,
        where: tuple[object, ...],
        *,
        top: bool = False,
        enums: bool = True,
    ) -> Any:
        """Walk the positions inside ``schema``; ``hint`` names what is found there."""
        if not isinstance(schema, dict) or "$ref" in schema:
            return schema
        result = dict(schema)
        if (
            "type" not in schema
            and isinstance(schema.get("items"), dict)
            and not (_COMPOSITIONS & set(schema) or "properties" in schema)
        ):
            result["type"] = "array"
            self.model.warnings.append(
                Issue(
                    pointer(where),
                    "`items` without `type`: typed as an array (add `type: array`; a value of "
                    "another type passes validation but not the model)",
                )
            )
        properties = schema.get("properties")
        if isinstance(properties, dict):
            result["properties"] = {
                prop: self.child(
                    value, hint + _part(prop), (*where, "properties", prop), enums=enums
                )
                for prop, value in properties.items()
            }
        items = schema.get("items")
        if isinstance(items, dict):
            result["items"] = self.child(items, f"{hint}Item", (*where, "items"), enums=enums)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            result["additionalProperties"] = self.child(
                extra, f"{hint}Value", (*where, "additionalProperties"), enums=enums
            )
        parts = schema.get("allOf")
        if isinstance(parts, list):
            # The parts of an allOf are one class: their properties are named after it.
            result["allOf"] = [
                self.visit(part, hint, (*where, "allOf", i), enums=enums)
                for i, part in enumerate(parts)
            ]
        for key in ("oneOf", "anyOf"):
            options = schema.get(key)
            if isinstance(options, list) and options and all(map(_presence_only, options)):
                # Which properties must be present: not a type, and request validation
                # (Connexion) still checks it against the spec.
                del result[key]
            elif isinstance(options, list):
                result[key] = self._options(options, key, hint, where, result, enums=enums)
        return result


def _singular(hint: str) -> str | None:
    """``TriggerKindsItem`` → ``TriggerKind``: an item of a plural-named array."""
    if not hint.endswith("Item"):
        return None
    plural = hint.removesuffix("Item")
    for ending, replacement in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("uses", "us")):
        if plural.endswith(ending):
            return plural.removesuffix(ending) + replacement
    if plural.endswith("s") and not plural.endswith(("ss", "us", "is")) and len(plural) > 1:
        return plural[:-1]
    return None


def _part(name: str) -> str:
    """The name part a property contributes: ``contact_methods`` → ``ContactMethods``."""
    part = pascal_case(name)
    if part and not part[0].isalpha():
        part = f"N{part}"
    return part or "Property"


_SCALARS = frozenset({"string", "integer", "number", "boolean"})
_COMPOSITIONS = frozenset({"allOf", "oneOf", "anyOf"})
_PLAIN_SCALAR = frozenset({"type", "format", "description", "title", "nullable"})
_ANNOTATIONS = frozenset({"description", "title", *_USE_KEYS})


def _plain_ref(schema: Any) -> Any:
    """``allOf: [{$ref: X}, {description: ...}]``, the way to describe a use of ``X``, is a
    ``$ref`` with the description beside it, not a class of its own."""
    parts = schema.get("allOf") if isinstance(schema, dict) else None
    if not isinstance(parts, list) or set(schema) - _ANNOTATIONS - {"allOf", "type"}:
        return schema
    refs = [p for p in parts if isinstance(p, dict) and "$ref" in p]
    notes = [p for p in parts if isinstance(p, dict) and "$ref" not in p]
    if len(refs) != 1 or len(refs) + len(notes) != len(parts) or set(refs[0]) != {"$ref"}:
        return schema
    if any(k not in _ANNOTATIONS and not k.startswith("x-") for note in notes for k in note):
        return schema
    merged: dict[str, Any] = {"$ref": refs[0]["$ref"]}
    for note in notes:
        merged.update(note)
    merged.update({k: v for k, v in schema.items() if k in _ANNOTATIONS})
    return merged


def _presence_only(option: Any) -> bool:
    """``{required: [domain]}``: a oneOf/anyOf member that constrains presence only."""
    return isinstance(option, dict) and bool(option) and set(option) <= {"required", "description"}


def _null_only(option: Any) -> bool:
    """``{type: object, nullable: true, additionalProperties: false}``: null, or ``{}``."""
    return (
        isinstance(option, dict)
        and option.get("type") == "object"
        and option.get("nullable") is True
        and option.get("additionalProperties") is False
        and not option.get("properties")
        and set(option) - _ANNOTATIONS <= {"type", "additionalProperties"}
    )


def _option(option: Any, index: int) -> str:
    """A name part for a ``oneOf``/``anyOf`` member: its title, its constant, or its place."""
    if not isinstance(option, dict):
        return f"Option{index + 1}"
    if isinstance(option.get("title"), str) and pascal_case(option["title"]):
        return pascal_case(option["title"])
    for prop in (option.get("properties") or {}).values():
        values = prop.get("enum") if isinstance(prop, dict) else None
        one = isinstance(values, list) and len(values) == 1 and isinstance(values[0], str)
        if one and values is not None and pascal_case(values[0]):
            return pascal_case(values[0])
    own = option.get("enum")
    if isinstance(own, list) and len(own) == 1 and isinstance(own[0], str) and pascal_case(own[0]):
        return pascal_case(own[0])
    refs = [_component(p) for p in option.get("allOf") or []]
    if refs and refs[0] is not None:
        return refs[0]
    kind = option.get("type")
    if isinstance(kind, str) and kind != "object" and "enum" not in option:
        return pascal_case(kind)
    names = option.get("required") or list(option.get("properties") or {})
    if isinstance(names, list) and names and pascal_case(str(names[0])):
        return pascal_case(str(names[0]))
    return f"Option{index + 1}"


def _narrow(model: TypeModel) -> None:
    """Make each lifted type of an ``allOf`` child compatible with the base field it overrides.

    A narrowed enum is recorded (rendered as a ``Literal`` of the base members); a lifted object
    that restates a base's object property becomes a subclass of that property's class."""
    schemas: dict[str, Any] = model.document["components"]["schemas"]
    pending = list(schemas)
    for _ in range(8):  # a subclass made here may override nested properties in turn
        changed: list[str] = []
        for name in pending:
            changed += _narrow_one(model, schemas, name)
        if not changed:
            return
        pending = changed


def _narrow_one(model: TypeModel, schemas: dict[str, Any], name: str) -> list[str]:
    schema = schemas.get(name)
    parts = schema.get("allOf") if isinstance(schema, dict) else None
    if not isinstance(parts, list):
        return []
    inherited: dict[str, Any] = {}
    for base in parts:
        if isinstance(base, dict) and "$ref" in base:
            inherited.update(_base_properties(schemas, base["$ref"], depth=0))
    changed = []
    located = [*((("allOf", i), p) for i, p in enumerate(parts)), ((), schema)]
    for where, part in located:
        if not isinstance(part, dict) or "$ref" in part:
            continue
        properties = part.get("properties") or {}
        for prop, value in list(properties.items()):
            if prop in inherited and _other_items(value, inherited[prop]):
                # WHY: a list is invariant: mypy refuses list[ChildItem] over list[BaseItem]
                # even when one class derives from the other.
                del properties[prop]
                model.warnings.append(
                    Issue(
                        pointer(("components", "schemas", name, *where, "properties", prop)),
                        f"restates the array {prop!r} of its allOf base with other items "
                        "(a list's items cannot be narrowed); typed as the base's",
                    )
                )
                continue
            target, base = _component(value), _component(inherited.get(prop))
            if prop not in inherited or target is None or target == base:
                continue
            own, theirs = schemas.get(target) or {}, schemas.get(base or "") or {}
            lifted = target in model.origins
            if base is None:
                if not (lifted and _free_form(inherited[prop])):
                    continue
            elif lifted and _is_enum(own) and _is_enum(theirs):
                if set(own["enum"]) <= set(theirs["enum"]):
                    model.narrowed[target] = Narrowing(base, tuple(own["enum"]))
                    continue
            elif lifted and _is_object(own) and (_is_object(theirs) or _is_composite(theirs)):
                schemas[target] = {"allOf": [{"$ref": COMPONENT_PREFIX + escape(base)}, own]}
                _inherit_untyped(schemas[target]["allOf"][1])
                changed.append(target)
                continue
            elif _derives(schemas, target, base, depth=0):
                continue
            # An override mypy would refuse (an unrelated class, a model over a free-form
            # dict): the field keeps the base's type.
            del properties[prop]
            kind = f"`{base}`" if base else "a free-form object"
            model.warnings.append(
                Issue(
                    pointer(("components", "schemas", name, *where, "properties", prop)),
                    f"restates {prop!r} of its allOf base with a type that is not a subtype of "
                    f"the base's ({kind}); typed as the base's",
                )
            )
    return changed


def _other_items(own: Any, theirs: Any) -> bool:
    """Whether two arrays hold different named types (neither free-form)."""
    if not (_is_array(own) and _is_array(theirs)):
        return False
    mine, base = own.get("items"), theirs.get("items")
    named = _component(mine), _component(base)
    if named == (None, None) or named[0] == named[1]:
        return False
    return not any(items is None or _free_form(items) for items in (mine, base))


def _is_array(schema: Any) -> bool:
    return isinstance(schema, dict) and "$ref" not in schema and schema.get("type") == "array"


def _drop_unused(model: TypeModel) -> None:
    """Lifted types that nothing refers to any more (an override typed as the base's)."""
    document = model.document
    schemas: dict[str, Any] = document["components"]["schemas"]
    for _ in range(16):  # each pass may leave the types inside a dropped one unused
        used = _refs({k: v for k, v in document.items() if k != "components"})
        used |= _refs({k: v for k, v in document["components"].items() if k != "schemas"})
        for name, schema in schemas.items():
            used |= _refs(schema) - {name}
        unused = [name for name in model.origins if name in schemas and name not in used]
        if not unused:
            return
        for name in unused:
            del schemas[name]
            model.narrowed.pop(name, None)


def _refs(node: Any) -> set[str]:
    """The components a part of the document names, by ``$ref`` or discriminator mapping."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "$ref" and isinstance(value, str):
                    found.add(_ref_name(value))
                elif key == "mapping" and isinstance(value, dict):
                    found.update(_ref_name(v) for v in value.values() if isinstance(v, str))
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _ref_name(ref: str) -> str:
    return _unescape(ref.removeprefix(COMPONENT_PREFIX).partition("/")[0])


def _inherit_untyped(part: dict[str, Any]) -> None:
    """A property restated with ``required`` only would override the base's type with Any:
    left out, the subclass inherits it."""
    kept = {k: v for k, v in (part.get("properties") or {}).items() if not _presence_only(v)}
    if kept:
        part["properties"] = kept
    else:
        part.pop("properties", None)


def _free_form(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and "$ref" not in schema
        and schema.get("type", "object") == "object"
        and not schema.get("properties")
        and not any(k in schema for k in ("allOf", "oneOf", "anyOf", "items", "enum"))
    )


def _derives(schemas: Mapping[str, Any], name: str, base: str, *, depth: int) -> bool:
    """Whether component ``name`` is ``base`` or inherits from it through ``allOf``."""
    if name == base:
        return True
    schema = schemas.get(name)
    if not isinstance(schema, dict) or depth > 16:
        return False
    return any(
        _derives(schemas, parent, base, depth=depth + 1)
        for parent in (_component(p) for p in schema.get("allOf") or [])
        if parent is not None
    )


def _component(schema: Any) -> str | None:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith(COMPONENT_PREFIX):
        rest = ref[len(COMPONENT_PREFIX) :]
        return None if "/" in rest else _unescape(rest)
    return None


def _base_properties(schemas: Mapping[str, Any], ref: str, *, depth: int) -> dict[str, Any]:
    """Property → its schema, of a component and the bases of its ``allOf``."""
    name = _component({"$ref": ref})
    schema = schemas.get(name) if name is not None else None
    if not isinstance(schema, dict) or depth > 16:
        return {}
    result: dict[str, Any] = {}
    for part in [*(schema.get("allOf") or []), schema]:
        if isinstance(part, dict) and "$ref" in part and part is not schema:
            result.update(_base_properties(schemas, part["$ref"], depth=depth + 1))
        elif isinstance(part, dict):
            result.update(part.get("properties") or {})
    return result


_CLASS = re.compile(r"^class (\w+)\((?:StrEnum|IntEnum|Enum|str, Enum|int, Enum)\):\n", re.M)


def apply_narrowing(code: str, narrowed: Mapping[str, Narrowing]) -> str:
    """Replace each narrowing enum class of datamodel-code-generator's output by a ``Literal``
    of its base enum's members, which mypy accepts where the base class has the enum."""
    if not narrowed:
        return code
    blocks = {m.group(1): m for m in _CLASS.finditer(code)}
    for name, narrowing in narrowed.items():
        base = blocks.get(narrowing.base)
        own = blocks.get(name)
        if base is None or own is None:
            continue
        members = _members(code, base.end())
        chosen = [members[v] for v in narrowing.values if v in members]
        if len(chosen) != len(narrowing.values):
            continue
        literal = f"Literal[{', '.join(f'{narrowing.base}.{m}' for m in chosen)}]"
        code = re.sub(rf"\b{name}\.(\w+)\b", rf"{narrowing.base}.\1", code)
        code = _drop_class(code, name)
        code = re.sub(rf"(?<![\w.]){name}\b", literal, code)
        blocks = {m.group(1): m for m in _CLASS.finditer(code)}
    if "Literal[" in code and not re.search(r"^from typing import .*\bLiteral\b", code, re.M):
        code = re.sub(
            r"^(from __future__ import annotations\n)",
            r"\1\nfrom typing import Literal\n",
            code,
            count=1,
            flags=re.M,
        )
    return code


_MEMBER = re.compile(r"    (\w+) = ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|-?\d+)$")


def _members(code: str, start: int) -> dict[Any, str]:
    """Value → member name, of the enum class body that starts at ``start``."""
    result: dict[Any, str] = {}
    for line in code[start:].splitlines():
        if line and not line.startswith(" "):
            break
        match = _MEMBER.match(line)
        if match:
            result[ast.literal_eval(match.group(2))] = match.group(1)
    return result


def _drop_class(code: str, name: str) -> str:
    return re.sub(
        rf"^class {name}\(.*\):\n(?:(?:    .*)?\n)*?(?=\S)", "", code, count=1, flags=re.M
    )
