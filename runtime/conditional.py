"""Conditional requests (RFC 9110 §13): strong entity tags, If-Match, If-None-Match, 412, 428.

A service derives a resource's tag from a version that every change increments, calls
:func:`check_if_match` before it writes and :func:`not_modified` before it answers a read.
``x-require-if-match`` operations get a 428 from :func:`install_precondition_required` when the
client sent no ``If-Match`` at all."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import flask

from runtime.errors import Problem

__all__ = [
    "PreconditionFailed",
    "PreconditionRequired",
    "check_if_match",
    "entity_tag",
    "install_precondition_required",
    "not_modified",
]

# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, in a comma-separated list.
_TAG = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')


class PreconditionFailed(Problem):
    status = 412
    kind = "precondition-failed"
    title = "Precondition Failed"


class PreconditionRequired(Problem):
    status = 428
    kind = "precondition-required"
    title = "Precondition Required"


def entity_tag(version: int) -> str:
    """The strong tag of one version of a resource."""
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque)`` of each tag in the list; None when the header is not a tag list."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while position < len(header):
        match = _TAG.match(header, position)
        if match is None or match.end() == position:
            return None
        tags.append((match.group(1) is not None, f'"{match.group(2)}"'))
        position = match.end()
    return tags


def check_if_match(header: str | None, current: str | None) -> None:
    """Raise 412 unless ``If-Match`` is absent, ``*`` on an existing resource, or names
    ``current`` (strong comparison: a weak tag never matches)."""
    if header is None:
        return
    if header.strip() == "*":
        if current is not None:
            return
    elif current is not None and (False, current) in (_tags(header) or []):
        return
    raise PreconditionFailed(
        "The resource has changed since it was read (If-Match); read it again and retry.",
    )


def not_modified(header: str | None, current: str) -> bool:
    """True when ``If-None-Match`` names ``current`` (weak comparison) or is ``*``."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(opaque == current for _weak, opaque in _tags(header) or [])


def install_precondition_required(
    app: flask.Flask, policies: Mapping[str, Mapping[str, Any]]
) -> None:
    """A ``before_request`` hook: an ``x-require-if-match`` operation without If-Match is a 428."""
    from runtime.idempotency import current_operation_id

    def require_if_match() -> None:
        policy = policies.get(current_operation_id() or "")
        if policy and policy.get("require_if_match") and "If-Match" not in flask.request.headers:
            raise PreconditionRequired(
                "This operation needs If-Match with the resource's ETag (or *); read it first."
            )

    app.before_request(require_if_match)
