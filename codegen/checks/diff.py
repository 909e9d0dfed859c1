"""``python -m codegen diff OLD NEW``: which changes between two specs break existing clients.

In the spirit of oasdiff: what a client sends may only get more permissive, what it receives
may only get richer. A breaking change passes only with a new major ``info.version``."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codegen.errors import ConfigError
from codegen.spec import operations, resolve


@dataclass(frozen=True, order=True)
class Change:
    where: str
    message: str
    breaking: bool

    def __str__(self) -> str:
        return f"{'BREAKING' if self.breaking else 'ok      '}  {self.where}: {self.message}"


def load_document(source: str, *, root: Path, default_path: str = "openapi.yaml") -> Any:
    """A spec from a file, ``git:REF:path``, or a bare git ref (meaning ``default_path`` there)."""
    path = Path(source)
    if source.startswith("git:"):
        ref, _, inner = source[len("git:") :].partition(":")
        text = _git_show(ref, inner or default_path, root)
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        text = _git_show(source, default_path, root)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: not an OpenAPI document")
    return data


def _git_show(ref: str, path: str, root: Path) -> str:
    if not re.fullmatch(r"[\w./@^~{}-]+", ref) or ref.startswith("-"):
        raise ConfigError(f"{ref!r} is neither a file nor a git ref")
    # WHY: safe to run: a fixed git command (read-only `show`), no shell, the ref checked above.
    result = subprocess.run(  # noqa: S603  # nosec B603
        ["git", "show", f"{ref}:{path}"],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ConfigError(f"git show {ref}:{path} failed: {result.stderr.strip()}")
    return result.stdout


def major(data: Mapping[str, Any]) -> int | None:
    info = data.get("info")
    version = str(info.get("version", "")) if isinstance(info, dict) else ""
    match = re.match(r"v?(\d+)", version)
    return int(match.group(1)) if match else None


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change between two documents, breaking or not, in a stable order."""
    changes: list[Change] = []
    old_ops = {_op_key(url, method): (url, method, op) for url, method, op in operations(old)}
    new_ops = {_op_key(url, method): (url, method, op) for url, method, op in operations(new)}
    for key in sorted(old_ops.keys() - new_ops.keys()):
        url, method, _ = old_ops[key]
        changes.append(Change(f"{method.upper()} {url}", "operation removed", True))
    for key in sorted(new_ops.keys() - old_ops.keys()):
        url, method, _ = new_ops[key]
        changes.append(Change(f"{method.upper()} {url}", "operation added", False))
    for key in sorted(old_ops.keys() & new_ops.keys()):
        url, method, old_op = old_ops[key]
        new_url, _, new_op = new_ops[key]
        where = f"{method.upper()} {new_url}"
        changes += _operation(old, new, where, (url, new_url), old_op, new_op)
    return changes


def _op_key(url: str, method: str) -> tuple[str, str]:
    # Renaming a path parameter does not change the route.
    return re.sub(r"\{[^}]*\}", "{}", url), method


def _parameters(data: Mapping[str, Any], url: str, op: Mapping[str, Any]) -> dict[Any, Any]:
    result = {}
    item = data["paths"][url]
    for raw in [*(item.get("parameters") or []), *(op.get("parameters") or [])]:
        param = resolve(data, raw)
        if isinstance(param, dict) and "name" in param:
            location = param.get("in")
            name = param["name"]
            key = (location, "{}" if location == "path" else str(name).lower())
            result[key] = param
    return result


def _operation(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: str,
    urls: tuple[str, str],
    old_op: Mapping[str, Any],
    new_op: Mapping[str, Any],
) -> Iterator[Change]:
    url, new_url = urls
    old_params = _parameters(old, url, old_op)
    new_params = _parameters(new, new_url, new_op)
    for key in sorted(old_params.keys() - new_params.keys(), key=str):
        yield Change(where, f"{key[0]} parameter {old_params[key]['name']!r} removed", True)
    for key in sorted(new_params.keys() - old_params.keys(), key=str):
        param = new_params[key]
        required = bool(param.get("required")) or key[0] == "path"
        yield Change(
            where,
            f"{'required' if required else 'optional'} {key[0]} parameter {param['name']!r} added",
            required,
        )
    for key in sorted(old_params.keys() & new_params.keys(), key=str):
        before, after = old_params[key], new_params[key]
        label = f"{key[0]} parameter {after['name']!r}"
        if after.get("required") and not before.get("required"):
            yield Change(where, f"{label} became required", True)
        yield from _schema(
            _Pair(old, new, "request"),
            f"{where} {label}",
            before.get("schema"),
            after.get("schema"),
        )
    yield from _request_body(old, new, where, old_op.get("requestBody"), new_op.get("requestBody"))
    yield from _responses(old, new, where, old_op.get("responses"), new_op.get("responses"))
    yield from _security(old, new, where, old_op, new_op)


def _request_body(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, before: Any, after: Any
) -> Iterator[Change]:
    before, after = resolve(old, before), resolve(new, after)
    if not isinstance(after, dict):
        return
    if not isinstance(before, dict):
        if after.get("required"):
            yield Change(where, "a required request body was added", True)
        return
    if after.get("required") and not before.get("required"):
        yield Change(where, "the request body became required", True)
    old_content, new_content = before.get("content") or {}, after.get("content") or {}
    for media in sorted(set(old_content) - set(new_content)):
        yield Change(where, f"request content type {media!r} removed", True)
    for media in sorted(set(old_content) & set(new_content)):
        yield from _schema(
            _Pair(old, new, "request"),
            f"{where} request body",
            (resolve(old, old_content[media]) or {}).get("schema"),
            (resolve(new, new_content[media]) or {}).get("schema"),
        )


def _responses(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, before: Any, after: Any
) -> Iterator[Change]:
    before = {str(k): v for k, v in (before or {}).items()}
    after = {str(k): v for k, v in (after or {}).items()}
    for status in sorted(set(before) - set(after)):
        yield Change(where, f"response {status} removed", True)
    for status in sorted(set(after) - set(before)):
        yield Change(where, f"response {status} added", False)
    for status in sorted(set(before) & set(after)):
        old_response, new_response = resolve(old, before[status]), resolve(new, after[status])
        old_content = (old_response or {}).get("content") or {}
        new_content = (new_response or {}).get("content") or {}
        for media in sorted(set(old_content) - set(new_content)):
            yield Change(where, f"response {status} content type {media!r} removed", True)
        for media in sorted(set(old_content) & set(new_content)):
            yield from _schema(
                _Pair(old, new, "response"),
                f"{where} response {status}",
                (resolve(old, old_content[media]) or {}).get("schema"),
                (resolve(new, new_content[media]) or {}).get("schema"),
            )


def _scopes(data: Mapping[str, Any], op: Mapping[str, Any]) -> list[set[str]] | None:
    security = op.get("security", data.get("security"))
    if not security:
        return None
    alternatives = []
    for requirement in security:
        alternatives.append(
            {f"{k}:{s}" for k, v in requirement.items() for s in v} | set(requirement)
        )
    return alternatives


def _security(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: str,
    old_op: Mapping[str, Any],
    new_op: Mapping[str, Any],
) -> Iterator[Change]:
    before, after = _scopes(old, old_op), _scopes(new, new_op)
    if after is None or before == after:
        if before is not None and after is None:
            yield Change(where, "security removed: the operation became public", False)
        return
    if before is None:
        yield Change(where, "security added: the operation needs credentials now", True)
        return
    # Tightened when a request that satisfied some old alternative satisfies no new one.
    if any(not any(alt <= old_alt for alt in after) for old_alt in before if old_alt):
        yield Change(where, "security tightened: more schemes or scopes are required", True)
    else:
        yield Change(where, "security loosened", False)


@dataclass(frozen=True)
class _Pair:
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    direction: str  # "request": the client sends it; "response": the client receives it


_NARROWER_IF_GREATER = ("minLength", "minimum", "minItems", "minProperties")
_NARROWER_IF_SMALLER = ("maxLength", "maximum", "maxItems", "maxProperties")
# The integers each format admits. A format whose range holds the schema's own bounds admits
# every value the schema did, so declaring it changes nothing a client can send or see.
_INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# WHY 36: JSON Schema's `uuid` format is the hyphenated form only, so no uuid is longer.
_UUID_LENGTH = 36


def _implied_format(schema: Mapping[str, Any]) -> bool:
    """Whether the schema's bounds already keep its values inside its integer format."""
    span = _INTEGER_FORMATS.get(schema.get("format"))  # type: ignore[arg-type]
    low, high = schema.get("minimum"), schema.get("maximum")
    if span is None or not isinstance(low, int) or not isinstance(high, int):
        return False
    return span[0] <= low and high <= span[1]


def _implied_bound(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> bool:
    """Whether a new ``maxLength`` only states what the uuid format already implied."""
    return (
        key == "maxLength"
        and before.get("format") == after.get("format") == "uuid"
        and after[key] >= _UUID_LENGTH
    )


def _schema(
    pair: _Pair, where: str, before: Any, after: Any, seen: frozenset[tuple[int, int]] = frozenset()
) -> Iterator[Change]:
    before, after = resolve(pair.old, before), resolve(pair.new, after)
    if not isinstance(before, dict) or not isinstance(after, dict):
        return
    if (id(before), id(after)) in seen:
        return
    seen = seen | {(id(before), id(after))}
    request = pair.direction == "request"
    if before.get("type") != after.get("type") and before.get("type") and after.get("type"):
        yield Change(where, f"type changed from {before['type']} to {after['type']}", True)
        return
    if before.get("format") != after.get("format") and after.get("format"):
        # WHY any former format: int64 → int32 within bounds 1..100 admits the same values too.
        implied = _implied_format(after)
        yield Change(
            where,
            f"format changed from {before.get('format')} to {after['format']}"
            + ("; the bounds already kept the values inside it" if implied else ""),
            not implied,
        )
    if request:
        for key in _NARROWER_IF_GREATER:
            if key in after and (key not in before or after[key] > before[key]):
                yield Change(where, f"{key} narrowed to {after[key]}", True)
        for key in _NARROWER_IF_SMALLER:
            if key in after and (key not in before or after[key] < before[key]):
                implied = _implied_bound(before, after, key)
                yield Change(
                    where,
                    f"{key} narrowed to {after[key]}"
                    + ("; the format already implied it" if implied else ""),
                    not implied,
                )
        if after.get("pattern") and after.get("pattern") != before.get("pattern"):
            yield Change(where, "pattern added or changed", True)
        if before.get("nullable") and not after.get("nullable"):
            yield Change(where, "no longer nullable", True)
    elif after.get("nullable") and not before.get("nullable"):
        yield Change(where, "may now be null", True)
    old_enum, new_enum = before.get("enum"), after.get("enum")
    if isinstance(new_enum, list):
        old_values = old_enum if isinstance(old_enum, list) else None
        if request:
            removed = [v for v in old_values or [] if v not in new_enum]
            if old_values is None:
                yield Change(where, "enum added: values are now restricted", True)
            for value in removed:
                yield Change(where, f"enum value {value!r} removed", True)
        else:
            for value in [v for v in new_enum if old_values is not None and v not in old_values]:
                yield Change(where, f"enum value {value!r} added to a response", True)
    old_props = before.get("properties") or {}
    new_props = after.get("properties") or {}
    old_required = set(before.get("required") or ())
    new_required = set(after.get("required") or ())
    for name in sorted(set(old_props) - set(new_props)):
        yield Change(where, f"property {name!r} removed", True)
    for name in sorted(set(new_props) - set(old_props)):
        needed = request and name in new_required
        yield Change(
            where, f"{'required' if needed else 'optional'} property {name!r} added", needed
        )
    for name in sorted(set(old_props) & set(new_props)):
        if request and name in new_required and name not in old_required:
            yield Change(where, f"property {name!r} became required", True)
        if not request and name in old_required and name not in new_required:
            yield Change(where, f"property {name!r} is no longer always present", True)
        yield from _schema(pair, f"{where}.{name}", old_props[name], new_props[name], seen)
    if (
        request
        and after.get("additionalProperties") is False
        and (before.get("additionalProperties") is not False)
    ):
        yield Change(where, "additional properties are now forbidden", True)
    # Items on one side only are not compared: a missing side is no schema, so this returns.
    yield from _schema(pair, f"{where}[]", before.get("items"), after.get("items"), seen)
    for key in ("allOf", "oneOf", "anyOf"):
        olds, news = before.get(key) or [], after.get(key) or []
        for index, (a, b) in enumerate(zip(olds, news, strict=False)):
            yield from _schema(pair, f"{where}/{key}/{index}", a, b, seen)
        if key != "allOf" and request and len(news) < len(olds):
            yield Change(where, f"{key} lost alternatives", True)


def gate(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[list[Change], bool]:
    """The changes, and whether they pass: no breaking change, or a new major version."""
    changes = compare(old, new)
    breaking = any(c.breaking for c in changes)
    old_major, new_major = major(old), major(new)
    bumped = old_major is not None and new_major is not None and new_major > old_major
    return changes, not breaking or bumped
