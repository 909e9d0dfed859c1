"""The ``x-rate-limit``, ``x-idempotent``, ``x-require-if-match`` and ``x-deadline``
operation extensions: their schema and values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from codegen.errors import Issue, pointer

# The limits library notation: "10/minute", "10 per 2 hours", several joined by ";".
RATE = re.compile(r"^[1-9][0-9]*\s*(/|per)\s*([0-9]+\s*)?(second|minute|hour|day|month|year)s?$")
KEYS = ("ip", "caller")
FAILS = ("open", "closed")
_RATE_LIMIT_FIELDS = frozenset({"limit", "key", "fail"})
IDEMPOTENCY_KEYS = ("required", "optional")
IDEMPOTENCY_HEADER = "Idempotency-Key"
IF_MATCH_HEADER = "If-Match"


@dataclass(frozen=True)
class RateLimit:
    limits: tuple[str, ...]
    key: str
    fail: str


def rate_limits(operation: Any, document: Mapping[str, Any]) -> tuple[RateLimit, ...]:
    """The limits of an operation (``check`` has accepted them): its own ``x-rate-limit``
    (a mapping, a list that must all allow a request, or ``false``), else the document's."""
    raw = operation.get("x-rate-limit", document.get("x-rate-limit"))
    if raw is None or raw is False:
        return ()
    return tuple(
        RateLimit(
            limits=tuple(part.strip() for part in str(item["limit"]).split(";")),
            key=str(item.get("key", "ip")),
            fail=str(item.get("fail", "open")),
        )
        for item in (raw if isinstance(raw, list) else [raw])
        if isinstance(item, dict)
    )


# WHY: past five minutes a request is a job; a proxy or a client would have given up long before.
MAX_DEADLINE_S = 300


def deadline_s(operation: Mapping[str, Any]) -> float | None:
    """The operation's own ``x-deadline`` in seconds, or None for ``REQUEST_DEADLINE_S``."""
    raw = operation.get("x-deadline")
    return None if raw is None else float(raw)


def _check_deadline(operation: Mapping[str, Any], where: tuple[object, ...]) -> list[Issue]:
    if "x-deadline" not in operation:
        return []
    raw = operation["x-deadline"]
    if not where:
        return [
            Issue(
                pointer(("x-deadline",)),
                "x-deadline belongs on an operation; the default is the REQUEST_DEADLINE_S setting",
            )
        ]
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= MAX_DEADLINE_S:
        return [
            Issue(
                pointer((*where, "x-deadline")),
                f"x-deadline {raw!r} must be a number of seconds, > 0 and <= {MAX_DEADLINE_S}",
            )
        ]
    return []


def idempotency_key(operation: Mapping[str, Any]) -> str:
    """``required``, ``optional`` or ``none``: whether the operation takes an Idempotency-Key.

    ``x-idempotent: true`` makes the key optional (Stripe's default); ``{key: required}``
    refuses a request without one."""
    raw = operation.get("x-idempotent")
    if raw is True:
        return "optional"
    if isinstance(raw, dict):
        return "required" if raw.get("key") == "required" else "optional"
    return "none"


def check(operation: Mapping[str, Any], where: tuple[object, ...]) -> list[Issue]:
    """Located problems with the policy extensions of one operation."""
    issues: list[Issue] = _check_deadline(operation, where)
    idempotent = operation.get("x-idempotent", False)
    if not isinstance(idempotent, bool) and not (
        isinstance(idempotent, dict)
        and set(map(str, idempotent)) <= {"key"}
        and idempotent.get("key", "optional") in IDEMPOTENCY_KEYS
    ):
        issues.append(
            Issue(
                pointer((*where, "x-idempotent")),
                "x-idempotent must be true, false or {key: required|optional}",
            )
        )
    if not isinstance(operation.get("x-require-if-match", False), bool):
        issues.append(
            Issue(
                pointer((*where, "x-require-if-match")), "x-require-if-match must be true or false"
            )
        )
    if "x-rate-limit" not in operation or operation["x-rate-limit"] is False:
        return issues
    raw = operation["x-rate-limit"]
    at = (*where, "x-rate-limit")
    if isinstance(raw, list) and raw:
        for index, item in enumerate(raw):
            issues += _check_one(operation, item, (*at, index))
        return issues
    return issues + _check_one(operation, raw, at)


def _check_one(operation: Mapping[str, Any], raw: Any, at: tuple[object, ...]) -> list[Issue]:
    issues: list[Issue] = []
    if not isinstance(raw, dict):
        return [
            Issue(
                pointer(at),
                "x-rate-limit must be a mapping {limit, key, fail}, a non-empty list of them, "
                "or false",
            )
        ]
    for unknown in sorted(set(map(str, raw)) - _RATE_LIMIT_FIELDS):
        issues.append(
            Issue(pointer((*at, unknown)), "unknown x-rate-limit field; use limit, key, fail")
        )
    limit = raw.get("limit")
    if not isinstance(limit, str) or not all(RATE.match(p.strip()) for p in limit.split(";")):
        issues.append(
            Issue(
                pointer((*at, "limit")),
                f"x-rate-limit limit {limit!r} must look like '5/minute;30/hour' "
                "(the limits library notation, separated by ';')",
            )
        )
    key = raw.get("key", "ip")
    if not isinstance(key, str) or not (
        key in KEYS or (key.startswith("body:") and len(key) > len("body:"))
    ):
        issues.append(
            Issue(
                pointer((*at, "key")),
                f"x-rate-limit key {key!r} must be ip, caller or body:<field>",
            )
        )
    elif key == "caller" and operation.get("security") == []:
        issues.append(
            Issue(pointer((*at, "key")), "x-rate-limit key 'caller' on a public operation")
        )
    fail = raw.get("fail", "open")
    if fail not in FAILS:
        issues.append(
            Issue(pointer((*at, "fail")), f"x-rate-limit fail {fail!r} must be open or closed")
        )
    return issues
