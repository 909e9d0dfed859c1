"""The document as JSON holds it: loaded, repaired where YAML differs from JSON, navigated.

Everything after this module (validation, preparation, the IR, lint, diff) reads the document
through these functions; none of them reads the file again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from codegen.errors import Issue, SpecError, pointer
from codegen.naming import domain_name

DEFAULT_DOMAIN = "default"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, libyaml's C one when available, that keeps ``2022-01-01`` a string.

    An OpenAPI document is JSON: an unquoted date in YAML means the string, and the validator
    cannot handle a ``datetime.date`` (``Unsupported type: 'date'``)."""


# WHY: the resolvers are a class attribute shared with SafeLoader; the copy changes only ours.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class LoadedSpec:
    """The parsed document, the hash of the bytes it came from, and the repairs made on it."""

    path: Path
    data: Mapping[str, Any]
    sha256: str
    warnings: tuple[Issue, ...] = ()


def load(path: Path) -> LoadedSpec:
    """Read a YAML or JSON spec; a syntax error is a located issue, not a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError([Issue("#", f"cannot read {path}: {exc.strerror}")]) from None
    try:
        # The C loader (libyaml) reads a 2 MB spec ten times faster than the pure-Python one.
        data = yaml.load(raw, Loader=_Loader)  # noqa: S506  # nosec B506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError([Issue("#", f"{where}: YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Issue("#", f"{path}: YAML syntax error: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError([Issue("#", "the spec must be a mapping (an OpenAPI document)")])
    warnings, errors = string_keys(data)
    if errors:
        raise SpecError(errors)
    return LoadedSpec(
        path=path, data=data, sha256=hashlib.sha256(raw).hexdigest(), warnings=tuple(warnings)
    )


def string_keys(data: dict[str, Any]) -> tuple[list[Issue], list[Issue]]:
    """Turn the integer keys YAML makes of ``200:`` into the strings JSON has, in place.

    Returns one warning (at the first mapping repaired, with the count of the others) and one
    error per key that is neither a string nor an integer: YAML 1.1 reads ``on:`` or ``yes:``
    as a boolean, whose spelling is lost, so only quoting restores it."""
    repaired: list[tuple[object, ...]] = []
    errors: list[Issue] = []
    # Examples too: JSON has no integer keys there either.
    for path, node in mappings(data, examples=True):
        if all(isinstance(key, str) for key in node):
            continue
        numbers = {key for key in node if isinstance(key, int) and not isinstance(key, bool)}
        errors += [
            Issue(
                pointer((*path, str(key))),
                f"the key {key!r} is not a string (YAML read an unquoted key as "
                f"{type(key).__name__}); quote it",
            )
            for key in node
            if not isinstance(key, str) and key not in numbers
        ]
        if numbers:
            items = list(node.items())
            node.clear()
            node.update((str(key) if key in numbers else key, value) for key, value in items)
            repaired.append(path)
    if not repaired:
        return [], errors
    others = f" (and in {len(repaired) - 1} other mapping(s))" if len(repaired) > 1 else ""
    warning = Issue(
        pointer(repaired[0]),
        f"unquoted integer keys such as `200:` read as the strings JSON has{others}; quote "
        "them, YAML reads them as numbers",
    )
    return [warning], errors


def mappings(
    node: Any, path: tuple[object, ...] = (), *, examples: bool = False
) -> Iterator[tuple[tuple[object, ...], dict[Any, Any]]]:
    """Every mapping of the document, parents before children; in examples only if asked.

    A parent may change its own items while it is being visited: its children are read after."""
    if isinstance(node, dict):
        yield path, node
        for key, value in list(node.items()):
            if examples or key not in ("example", "examples"):
                yield from mappings(value, (*path, key), examples=examples)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from mappings(value, (*path, index), examples=examples)


def lookup(data: Mapping[str, Any], ref: str) -> Any:
    """The object a local ``#/…`` reference points to, or ``None``."""
    if not ref.startswith("#"):
        return None
    node: Any = data
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def resolve(data: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s until a real object; validation has ruled out dangling ones."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            return node
        seen.add(ref)
        node = lookup(data, ref)
    return node


def operations(data: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(path, method, operation)`` for every operation, in document order."""
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return
    for url, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                yield str(url), method, operation


def operation_domain(operation: Mapping[str, Any]) -> str:
    """The domain of an operation: ``x-domain``, else its first tag, else ``default``."""
    explicit = operation.get("x-domain")
    if isinstance(explicit, str) and explicit:
        return domain_name(explicit)
    tags = operation.get("tags")
    if isinstance(tags, list) and tags and isinstance(tags[0], str) and tags[0]:
        return domain_name(tags[0])
    return DEFAULT_DOMAIN
