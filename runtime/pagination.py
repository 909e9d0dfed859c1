"""Opaque keyset cursors and the links that carry them."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from runtime.errors import FieldError, ValidationProblem


def encode_cursor(*key: Any) -> str:
    """Encode a keyset position (e.g. ``created_at, id``) as URL-safe text without padding."""
    raw = orjson.dumps([str(k) for k in key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, *, parts: int) -> list[str]:
    """Decode a cursor made by :func:`encode_cursor`; anything else is a 400 naming the cursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        key = None
    if not (isinstance(key, list) and len(key) == parts and all(isinstance(k, str) for k in key)):
        raise ValidationProblem(
            errors=[FieldError("#/query/cursor", "is not a cursor returned by this API")]
        )
    return key


def next_link(path: str, params: Mapping[str, Any], cursor: str | None) -> str | None:
    """The URL of the next page, keeping the other query parameters; None on the last page."""
    if cursor is None:
        return None
    query = {k: v for k, v in params.items() if v is not None and k != "cursor"}
    query["cursor"] = cursor
    return f"{path}?{urlencode(sorted(query.items()))}"
