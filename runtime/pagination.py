"""Keyset cursors over ``(created_at, id)`` and the links that carry them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from runtime.errors import FieldError, ValidationProblem

# WHY: a cursor is "<microseconds since the epoch>.<id as 32 hex digits>", a shape the spec's
# pattern can state exactly, so every cursor that passes the contract is a position the API
# can serve; fuzzers and generated clients cannot make one the schema admits and the API refuses.
CURSOR_PATTERN = re.compile(r"[0-9]{1,18}\.[0-9a-f]{32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)
_MAX_MICROSECONDS = (_LAST - _EPOCH) // timedelta(microseconds=1)


def encode_position(created_at: datetime, item_id: uuid.UUID) -> str:
    """The cursor of the row at ``(created_at, item_id)``; ``created_at`` is aware."""
    microseconds = (created_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return f"{microseconds}.{item_id.hex}"


def decode_position(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; anything not shaped like one is a 400 naming the cursor."""
    if not CURSOR_PATTERN.fullmatch(cursor):
        raise ValidationProblem(
            errors=[FieldError("#/query/cursor", "is not a cursor returned by this API")]
        )
    microseconds, item = cursor.split(".")
    # WHY: past the last representable instant a position is "after everything": clamp.
    offset = timedelta(microseconds=min(int(microseconds), _MAX_MICROSECONDS))
    return _EPOCH + offset, uuid.UUID(hex=item)


def next_link(path: str, params: Mapping[str, Any], cursor: str | None) -> str | None:
    """The URL of the next page, keeping the other query parameters; None on the last page."""
    if cursor is None:
        return None
    query = {k: v for k, v in params.items() if v is not None and k != "cursor"}
    query["cursor"] = cursor
    return f"{path}?{urlencode(sorted(query.items()))}"
