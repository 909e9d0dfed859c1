"""Load the spec and validate it, collecting every error as a located value."""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from codegen import policies, prepare, slo
from codegen.document import (
    DEFAULT_DOMAIN,
    HTTP_METHODS,
    LoadedSpec,
    load,
    lookup,
    mappings,
    operation_domain,
    operations,
    resolve,
)
from codegen.errors import Issue, pointer
from codegen.naming import function_name

# WHY: the IR and the type mapping import these from here; `document` is where they live.
__all__ = [
    "DEFAULT_DOMAIN",
    "HTTP_METHODS",
    "LoadedSpec",
    "load",
    "lookup",
    "operation_domain",
    "operations",
    "resolve",
]
RESERVED_MODULES = frozenset({"components", "operations"})
JSON_CONTENT = "application/json"
PROBLEM_CONTENT = "application/problem+json"
FORM_CONTENT = "application/x-www-form-urlencoded"
MULTIPART_CONTENT = "multipart/form-data"
STATUS_RANGES = ("1XX", "2XX", "3XX", "4XX", "5XX")


def body_kind(content_type: str) -> str:
    """How a body of this media type reaches Python: ``json``, ``form``, ``multipart``,
    ``text`` (``str``) or ``binary`` (``bytes``)."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_CONTENT or media.endswith("+json"):
        return "json"
    if media == FORM_CONTENT:
        return "form"
    if media == MULTIPART_CONTENT:
        return "multipart"
    if media.startswith("text/") or media.endswith(("/xml", "+xml")):
        return "text"
    return "binary"


_BODY_PREFERENCE = ("json", "form", "multipart", "text", "binary")


def pick_request_content(content: Mapping[str, Any]) -> str:
    """The media type whose schema types a request body: JSON first, then forms, then raw."""
    return min(content, key=lambda t: (_BODY_PREFERENCE.index(body_kind(str(t))), str(t)))


def validate(data: Mapping[str, Any]) -> list[Issue]:
    """Every problem: OpenAPI 3.0 validity first, then what codegen itself needs."""
    ref_issues = list(_check_refs(data))
    issues = _openapi_issues(data, run_semantic_pass=not ref_issues)
    located = prepare.mismatches(data)
    if located:
        # WHY: the validator reports a default of the wrong type without saying where.
        issues = [i for i in issues if i.pointer != "#" or not _value_message(i.message)]
        issues = located + issues
    templates = [] if ref_issues else _path_templates(data)
    if templates:
        # WHY: the validator names the parameter and the path but not where either stands.
        issues = templates + [
            i for i in issues if i.pointer != "#" or not _UNRESOLVED_PARAMETER.match(i.message)
        ]
    issues += ref_issues
    issues += _check_supported(data)
    return sorted(set(issues), key=issues.index)


_UNRESOLVED_PARAMETER = re.compile(
    r"Path parameter '.*' for '.*' operation in '.*' was not resolved"
)


def _path_templates(data: Mapping[str, Any]) -> list[Issue]:
    """Each path parameter missing from its template, and each template name without one."""
    issues = []
    for url, method, operation in operations(data):
        in_template = set(re.findall(r"{([^}/]+)}", url))
        declared: dict[str, tuple[object, ...]] = {}
        places: tuple[tuple[tuple[object, ...], Any], ...] = (
            (("paths", url, "parameters"), data["paths"][url].get("parameters")),
            (("paths", url, method, "parameters"), operation.get("parameters")),
        )
        for where, params in places:
            for index, raw in enumerate(params if isinstance(params, list) else []):
                param = resolve(data, raw)
                if isinstance(param, dict) and param.get("in") == "path":
                    declared[str(param.get("name"))] = (*where, index)
        for name, where in declared.items():
            if name not in in_template:
                issues.append(
                    Issue(
                        pointer((*where, "name")),
                        f"path parameter {name!r} is not in the path {url!r}; rename it to one "
                        f"of {sorted(in_template)} or put `{{{name}}}` into the path"
                        if in_template
                        else f"path parameter {name!r} is not in the path {url!r}",
                    )
                )
        for name in sorted(in_template - declared.keys()):
            issues.append(
                Issue(
                    pointer(("paths", url, method)),
                    f"`{{{name}}}` in the path {url!r} has no path parameter; declare "
                    f"`{{name: {name}, in: path, required: true, schema: ...}}`",
                )
            )
    return issues


def _value_message(message: str) -> bool:
    return " is not of type " in message or " is not one of " in message


def _openapi_issues(data: Mapping[str, Any], *, run_semantic_pass: bool) -> list[Issue]:
    from openapi_spec_validator import OpenAPIV30SpecValidator

    version = data.get("openapi")
    if "swagger" in data and version is None:
        return [
            Issue(
                "#/swagger",
                f"Swagger {data['swagger']} is not supported; convert the document to OpenAPI 3.0 "
                "(e.g. with swagger2openapi)",
            )
        ]
    if not isinstance(version, str) or not version.startswith("3.0."):
        return [
            Issue("#/openapi", f"only OpenAPI 3.0.x is supported (Connexion 3), got {version!r}")
        ]
    if not run_semantic_pass:
        # WHY: the semantic pass resolves every $ref and raises on a dangling one, so with
        # broken references only the structural (JSON Schema) pass can run.
        return _structural_issues(data)
    issues: list[Issue] = []
    errors = OpenAPIV30SpecValidator(data).iter_errors()
    located = False
    while True:
        try:
            error = next(errors)
        except StopIteration:
            break
        # WHY: the semantic pass may trip over a shape the schema pass has already flagged.
        except Exception as exc:
            issues.append(Issue("#", f"the spec could not be validated further: {exc}"))
            break
        if error.path:
            located = True
        else:
            issues.append(Issue("#", error.message))
    if located:
        # WHY: the default (jsonschema-rs) backend drops the sub-errors of `oneOf`, which name
        # the actual problem; jsonschema on the same v3.0 schema keeps them.
        issues = _structural_issues(data) + issues
    return issues


def _structural_issues(data: Mapping[str, Any]) -> list[Issue]:
    from openapi_spec_validator.schemas import schema_v30

    # jsonschema ships no type information; importing by name avoids a stub dependency.
    validators = importlib.import_module("jsonschema.validators")
    schema = dict(schema_v30)
    validator = validators.validator_for(schema)(schema)
    issues = []
    for error in validator.iter_errors(data):
        # One message per location: a value failing `type` also fails the `enum` beside it.
        leaves = {pointer(leaf.absolute_path): leaf.message for leaf in reversed(_refine(error))}
        issues += [Issue(where, message) for where, message in reversed(leaves.items())]
    return issues


def _refine(error: Any) -> list[Any]:
    """The errors that explain a failed ``oneOf``/``anyOf``, skipping the ``$ref`` branch."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[object, list[Any]] = defaultdict(list)
    for sub in error.context:
        branches[sub.relative_schema_path[0]].append(sub)
    candidates = [subs for subs in branches.values() if not any(map(_wrong_variant, subs))]
    if len(candidates) != 1:
        return [error]
    return [leaf for sub in candidates[0] for leaf in _refine(sub)]


def _wrong_variant(error: Any) -> bool:
    """Whether a ``oneOf`` branch failed only because the instance is another kind of object.

    In the OpenAPI 3.0 schema the kinds are told apart by ``$ref`` (a Reference Object) and by
    a one-value ``enum`` on ``in`` (the parameter variants) or ``type``."""
    if error.validator == "required" and error.validator_value == ["$ref"]:
        return not (isinstance(error.instance, dict) and "$ref" in error.instance)
    return (
        error.validator == "enum"
        and len(error.validator_value) == 1
        and bool(error.path)
        and error.path[-1] in ("in", "type")
    )


def _check_refs(data: Mapping[str, Any]) -> Iterator[Issue]:
    # `example(s)` values are free-form data: a "$ref" key there is not a reference.
    for path, node in mappings(data):
        if "$ref" not in node:
            continue
        ref = node["$ref"]
        where = pointer(path)
        if not isinstance(ref, str):
            yield Issue(where, "$ref must be a string")
        elif not ref.startswith("#"):
            yield Issue(
                where,
                f"unsupported construct: external $ref {ref!r}; bundle the spec into one file",
            )
        elif lookup(data, ref) is None:
            yield Issue(where, f"$ref {ref!r} points to nothing in this document")


def _check_supported(data: Mapping[str, Any]) -> list[Issue]:
    issues: list[Issue] = []
    seen_ids: dict[str, str] = {}
    seen_names: dict[str, str] = {}
    for url, method, operation in operations(data):
        where = ("paths", url, method)
        operation_id = operation.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            issues.append(
                Issue(pointer(where), "operationId is required: codegen names the handler after it")
            )
        elif operation_id in seen_ids:
            issues.append(
                Issue(
                    pointer((*where, "operationId")),
                    f"operationId {operation_id!r} is already used at {seen_ids[operation_id]}",
                )
            )
        else:
            seen_ids[operation_id] = pointer(where)
            name = function_name(operation_id)
            if name in seen_names:
                issues.append(
                    Issue(
                        pointer((*where, "operationId")),
                        f"operationId {operation_id!r} gives the Python name {name!r}, "
                        f"already taken by {seen_names[name]!r}",
                    )
                )
            seen_names[name] = operation_id
        domain = operation_domain(operation)
        if domain in RESERVED_MODULES:
            issues.append(
                Issue(
                    pointer((*where, "tags")),
                    f"unsupported construct: domain {domain!r} clashes with the generated "
                    f"module {domain}.py",
                )
            )
        path_item = data["paths"][url]
        for location, params in (
            ((url, "parameters"), path_item.get("parameters")),
            ((*where[1:], "parameters"), operation.get("parameters")),
        ):
            issues += _check_parameters(data, ("paths", *location), params)
        issues += _check_responses(data, (*where, "responses"), operation.get("responses"))
        issues += policies.check(operation, where)
    issues += policies.check(data, ())
    issues += slo.check(data)
    return issues


def _check_parameters(
    data: Mapping[str, Any], where: tuple[object, ...], params: Any
) -> list[Issue]:
    issues = []
    for index, param in enumerate(params if isinstance(params, list) else []):
        resolved = resolve(data, param)
        if isinstance(resolved, dict) and "content" in resolved:
            issues.append(
                Issue(
                    pointer((*where, index, "content")),
                    "unsupported construct: a parameter with `content`; use `schema`",
                )
            )
    return issues


def request_body_choices(data: Mapping[str, Any]) -> list[Issue]:
    """A warning for each request media type whose body the handler does not take.

    One handler takes one body type: the preferred media type (JSON, then forms, then
    multipart, then text and raw bytes; see ``pick_request_content``). An alternative of the
    same shape is served by it too; another one is ignored with a warning (Connexion validates
    JSON only, so such a body reaches the handler unvalidated and fails to parse there)."""
    issues = []
    for url, method, operation in operations(data):
        where = ("paths", url, method, "requestBody")
        issues += _request_body_choices(data, where, operation.get("requestBody"))
    return issues


def _request_body_choices(
    data: Mapping[str, Any], where: tuple[object, ...], body: Any
) -> list[Issue]:
    resolved = resolve(data, body)
    if not isinstance(resolved, dict) or not isinstance(resolved.get("content"), dict):
        return []
    content = resolved["content"]
    if not content:
        return []
    chosen = pick_request_content(content)
    schema = _schema_text(data, content[chosen])
    issues = []
    for content_type in content:
        if content_type == chosen:
            continue
        if _is_raw(str(content_type)) != _is_raw(str(chosen)):
            reason = f"it arrives as raw {body_kind(str(content_type))}, not parsed like"
        elif _schema_text(data, content[content_type]) != schema:
            reason = "its schema differs from that of"
        else:
            continue
        issues.append(
            Issue(
                pointer((*where, "content", content_type)),
                f"request media type {content_type!r} ignored: {reason} {chosen!r}, the one the "
                "handler takes (preference: JSON, form, multipart, other); a request sent as "
                f"{content_type!r} fails to parse",
            )
        )
    return issues


def _is_raw(content_type: str) -> bool:
    return body_kind(content_type) in ("text", "binary")


def _schema_text(data: Mapping[str, Any], media: Any) -> str:
    resolved = resolve(data, media)
    schema = resolved.get("schema") if isinstance(resolved, dict) else None
    return repr(resolve(data, schema))


def _check_responses(
    data: Mapping[str, Any], where: tuple[object, ...], responses: Any
) -> list[Issue]:
    issues = []
    for status in responses if isinstance(responses, dict) else []:
        code = str(status)
        if code == "default" or code.upper() in STATUS_RANGES:
            continue
        if not (code.isdigit() and len(code) == 3):
            issues.append(
                Issue(
                    pointer((*where, status)),
                    f"status {code!r} is neither a status code, a range like '4XX', nor 'default'",
                )
            )
    return issues
