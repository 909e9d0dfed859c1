"""``python -m codegen lint``: the API conventions the spec must follow, one rule each.

A rule is switched off for one operation with a reason, which reviewers then read:
``x-lint-ignore: [{rule: paginated-list, reason: "returns at most 3 keys"}]``."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from codegen import policies
from codegen.document import mappings, operations, resolve
from codegen.errors import pointer
from codegen.prepare import repeated_values
from codegen.spec import JSON_CONTENT, PROBLEM_CONTENT, STATUS_RANGES, body_kind

PAGINATION_PARAMETERS = frozenset(
    {"limit", "cursor", "page", "page_size", "pagesize", "per_page", "perpage", "offset"}
    | {"page_token", "pagetoken", "after", "before", "starting_after", "max_results"}
)


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    fix: str


RULES = (
    Rule("operation-id", "every operation has an operationId", "add `operationId: verbNoun`"),
    Rule("operation-tag", "every operation has a tag (its domain)", "add `tags: [<domain>]`"),
    Rule(
        "problem-json",
        "every 4xx/5xx response is application/problem+json",
        "use `$ref: '#/components/responses/<Problem>'` with application/problem+json content",
    ),
    Rule(
        "explicit-security",
        "every operation declares `security`, or `security: []` to be public on purpose",
        "add `security: [{<scheme>: [<scope>]}]`, or `security: []` if it is public",
    ),
    Rule(
        "closed-request-body",
        "JSON object request bodies forbid additional properties",
        "add `additionalProperties: false` to the request body schema",
    ),
    Rule(
        "paginated-list",
        "list operations (GET returning an array, or an object with an array `items`) "
        "take a limit/cursor-like query parameter",
        "add `limit` and `cursor` query parameters and return a page",
    ),
    Rule(
        "policy",
        "`x-rate-limit`, `x-idempotent` and `x-require-if-match` follow their schema",
        "write `x-rate-limit: {limit: '5/minute', key: ip|caller|body:<field>, fail: open|closed}`",
    ),
    Rule(
        "documented-limit",
        "a rate-limited operation documents its 429 response, with `Retry-After`",
        "add `'429': {$ref: '#/components/responses/TooManyRequests'}` (a response whose "
        "headers include Retry-After), or `x-rate-limit: false` if it is not limited",
    ),
    Rule(
        "idempotency-key",
        "an `x-idempotent` operation declares the Idempotency-Key header and its 409 and 422",
        "add `$ref: '#/components/parameters/IdempotencyKey'` (required when the key is) and "
        "the `409` (in flight) and `422` (key reused) responses",
    ),
    Rule(
        "if-match",
        "an `x-require-if-match` operation declares an optional If-Match header, 412 and 428",
        "add `$ref: '#/components/parameters/IfMatch'` (required: false, the runtime answers "
        "428) and the `412` and `428` responses",
    ),
    Rule(
        "required-property",
        "every name a schema lists in `required` is one of its `properties`",
        "correct the spelling in `required` or add the property (a misspelt name leaves the "
        "field optional)",
    ),
    Rule(
        "unique-enum",
        "an enum lists each value once",
        "remove the repeated value (codegen keeps one)",
    ),
    Rule(
        "lint-ignore",
        "every `x-lint-ignore` entry names a known rule and gives a reason",
        "write `x-lint-ignore: [{rule: <id>, reason: '<why this operation is different>'}]`",
    ),
)
RULE_IDS = frozenset(rule.id for rule in RULES)
SCHEMA_RULES = frozenset({"required-property", "unique-enum"})
_IGNORABLE = RULE_IDS - SCHEMA_RULES - {"lint-ignore"}
_FIX = {rule.id: rule.fix for rule in RULES}


@dataclass(frozen=True, order=True)
class Finding:
    pointer: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}: [{self.rule}] {self.message} (fix: {_FIX[self.rule]})"


def lint(data: Mapping[str, Any]) -> list[Finding]:
    """Every finding in the document, in document order, minus the ignored ones."""
    findings: list[Finding] = []
    root_security = data.get("security")
    for url, method, operation in operations(data):
        where = ("paths", url, method)
        ignored, own = _ignores(operation, where)
        findings += own
        for check in _CHECKS:
            findings += [
                f for f in check(data, operation, where, root_security) if f.rule not in ignored
            ]
    return findings + list(_schema_findings(data))


_COMPOSED = ("allOf", "anyOf", "oneOf")


def _schema_findings(data: Mapping[str, Any]) -> Iterator[Finding]:
    """Schema rules, anywhere in the document (they belong to no one operation)."""
    for path, node in mappings(data):
        required, properties = node.get("required"), node.get("properties")
        # WHY: an allOf member may require what a sibling declares; only the merge can tell.
        in_composition = len(path) > 1 and path[-2] in _COMPOSED
        if (
            isinstance(required, list)
            and isinstance(properties, dict)
            and not in_composition
            and not any(key in node for key in _COMPOSED)
        ):
            for index, name in enumerate(required):
                if name not in properties:
                    yield Finding(
                        pointer((*path, "required", index)),
                        "required-property",
                        f"{name!r} is required but not among the properties "
                        f"({_closest(str(name), list(map(str, properties)))})",
                    )
        repeated = repeated_values(node.get("enum"))
        if repeated:
            yield Finding(
                pointer((*path, "enum")),
                "unique-enum",
                f"the enum repeats {', '.join(repeated)}",
            )


def _closest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    more = ", ..." if len(candidates) > 8 else ""
    return f"they are {', '.join(candidates[:8])}{more}"


def _ignores(
    operation: Mapping[str, Any], where: tuple[object, ...]
) -> tuple[set[str], list[Finding]]:
    raw = operation.get("x-lint-ignore")
    if raw is None:
        return set(), []
    at = (*where, "x-lint-ignore")
    if not isinstance(raw, list):
        return set(), [Finding(pointer(at), "lint-ignore", "x-lint-ignore must be a list")]
    ignored: set[str] = set()
    findings = []
    for index, entry in enumerate(raw):
        rule = entry.get("rule") if isinstance(entry, dict) else None
        reason = entry.get("reason") if isinstance(entry, dict) else None
        if rule in SCHEMA_RULES:
            findings.append(
                Finding(
                    pointer((*at, index, "rule")),
                    "lint-ignore",
                    f"{rule!r} judges schemas, which no operation owns: correct the schema",
                )
            )
        elif rule not in _IGNORABLE:
            findings.append(
                Finding(
                    pointer((*at, index, "rule")),
                    "lint-ignore",
                    f"unknown rule {rule!r}; the rules are {', '.join(sorted(_IGNORABLE))}",
                )
            )
        elif not isinstance(reason, str) or not reason.strip():
            findings.append(
                Finding(
                    pointer((*at, index)),
                    "lint-ignore",
                    f"ignoring {rule!r} needs a reason",
                )
            )
        else:
            ignored.add(rule)
    return ignored, findings


Check = Callable[[Mapping[str, Any], Mapping[str, Any], tuple[object, ...], Any], Iterator[Finding]]


def _identity(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    if not isinstance(op.get("operationId"), str) or not op["operationId"]:
        yield Finding(pointer(where), "operation-id", "the operation has no operationId")
    tags = op.get("tags")
    if not (isinstance(tags, list) and tags and isinstance(tags[0], str)) and not op.get(
        "x-domain"
    ):
        yield Finding(pointer(where), "operation-tag", "the operation has no tag")


def _problem_json(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    responses = op.get("responses")
    for status, raw in responses.items() if isinstance(responses, dict) else []:
        code = str(status).upper()
        if not (code[:1] in ("4", "5") and (code.isdigit() or code in STATUS_RANGES)):
            continue
        response = resolve(data, raw)
        content = response.get("content") if isinstance(response, dict) else None
        types = sorted(map(str, content)) if isinstance(content, dict) else []
        if types != [PROBLEM_CONTENT]:
            got = ", ".join(types) or "no content"
            yield Finding(
                pointer((*where, "responses", status)),
                "problem-json",
                f"{status} response is {got}, not {PROBLEM_CONTENT}",
            )


def _security(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], root: Any
) -> Iterator[Finding]:
    if "security" not in op and root is None:
        yield Finding(
            pointer(where),
            "explicit-security",
            "no `security` here or at the root: public by accident?",
        )


def _closed_body(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    body = resolve(data, op.get("requestBody"))
    content = body.get("content") if isinstance(body, dict) else None
    for content_type, media in content.items() if isinstance(content, dict) else []:
        if body_kind(str(content_type)) != "json":
            continue
        media = resolve(data, media)
        schema = resolve(data, media.get("schema")) if isinstance(media, dict) else None
        if not isinstance(schema, dict) or any(k in schema for k in ("allOf", "oneOf", "anyOf")):
            continue
        is_object = schema.get("type") == "object" or "properties" in schema
        if is_object and schema.get("additionalProperties") is not False:
            yield Finding(
                pointer((*where, "requestBody", "content", content_type, "schema")),
                "closed-request-body",
                "the JSON body accepts unknown properties (mass assignment risk)",
            )


def _paginated(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    if where[2] != "get":
        return
    responses = op.get("responses")
    ok = (
        resolve(data, responses.get("200") or responses.get(200))
        if isinstance(responses, dict)
        else None
    )
    content = ok.get("content") if isinstance(ok, dict) else None
    media = resolve(data, content.get(JSON_CONTENT)) if isinstance(content, dict) else None
    schema = resolve(data, media.get("schema")) if isinstance(media, dict) else None
    if not isinstance(schema, dict):
        return
    items = resolve(data, (schema.get("properties") or {}).get("items"))
    is_list = schema.get("type") == "array" or (
        isinstance(items, dict) and items.get("type") == "array"
    )
    if not is_list:
        return
    params = [
        resolve(data, p)
        for p in [*(data["paths"][where[1]].get("parameters") or []), *(op.get("parameters") or [])]
    ]
    names = {
        str(p.get("name", "")).lower()
        for p in params
        if isinstance(p, dict) and p.get("in") == "query"
    }
    if not names & PAGINATION_PARAMETERS:
        yield Finding(
            pointer(where),
            "paginated-list",
            "the list is not paginated: no limit/cursor-like query parameter",
        )


def _policy(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    for issue in policies.check(op, where):
        yield Finding(issue.pointer, "policy", issue.message)


def _documented_limit(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    if not policies.rate_limits(op, data):
        return
    responses = op.get("responses")
    raw = responses.get("429", responses.get(429)) if isinstance(responses, dict) else None
    if raw is None:
        yield Finding(
            pointer((*where, "responses")),
            "documented-limit",
            "the operation is rate limited but documents no 429 response",
        )
        return
    response = resolve(data, raw)
    headers = response.get("headers") if isinstance(response, dict) else None
    if not (isinstance(headers, dict) and "retry-after" in map(str.lower, map(str, headers))):
        yield Finding(
            pointer((*where, "responses", "429")),
            "documented-limit",
            "the 429 response does not document its Retry-After header",
        )


def _header_parameter(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], name: str
) -> Mapping[str, Any] | None:
    params = [*(data["paths"][where[1]].get("parameters") or []), *(op.get("parameters") or [])]
    for raw in params:
        param = resolve(data, raw)
        if (
            isinstance(param, dict)
            and param.get("in") == "header"
            and str(param.get("name", "")).lower() == name.lower()
        ):
            return param
    return None


def _missing_responses(op: Mapping[str, Any], statuses: tuple[str, ...]) -> list[str]:
    responses = op.get("responses")
    declared = {str(s) for s in responses} if isinstance(responses, dict) else set()
    return [status for status in statuses if status not in declared]


def _write_safety(
    data: Mapping[str, Any], op: Mapping[str, Any], where: tuple[object, ...], _: Any
) -> Iterator[Finding]:
    key = policies.idempotency_key(op)
    if key != "none":
        param = _header_parameter(data, op, where, policies.IDEMPOTENCY_HEADER)
        if param is None:
            yield Finding(
                pointer(where), "idempotency-key", "x-idempotent without an Idempotency-Key header"
            )
        elif bool(param.get("required")) != (key == "required"):
            yield Finding(
                pointer(where),
                "idempotency-key",
                f"the Idempotency-Key header's `required` disagrees with x-idempotent (key {key})",
            )
        for status in _missing_responses(op, ("409", "422")):
            yield Finding(
                pointer((*where, "responses")),
                "idempotency-key",
                f"x-idempotent without a {status} response",
            )
    if op.get("x-require-if-match") is True:
        param = _header_parameter(data, op, where, policies.IF_MATCH_HEADER)
        if param is None or param.get("required"):
            yield Finding(
                pointer(where),
                "if-match",
                "x-require-if-match needs an If-Match header with required: false "
                "(a required one is refused with 400 before the runtime can answer 428)",
            )
        for status in _missing_responses(op, ("412", "428")):
            yield Finding(
                pointer((*where, "responses")),
                "if-match",
                f"x-require-if-match without a {status} response",
            )


_CHECKS: tuple[Check, ...] = (
    _identity,
    _problem_json,
    _security,
    _closed_body,
    _paginated,
    _policy,
    _documented_limit,
    _write_safety,
)
