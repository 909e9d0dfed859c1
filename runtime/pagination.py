"""Keyset paging over ``(created_at, id)``: the query, the cursor, the page and its link.

A repository narrows its query with :func:`keyset`; the service turns the rows into a
:class:`Page` with :func:`page`. Both sides of every list endpoint go through here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from runtime.errors import FieldError, ValidationProblem

Position = tuple[datetime, uuid.UUID]
S = TypeVar("S", bound=Select[Any])

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


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: SQLite hands back naive datetimes for what was stored as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def keyset(
    query: S,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
    after: Position | None,
    newest_first: bool = False,
) -> S:
    """``query`` ordered by ``(created_at, id)``: ``limit`` rows past the position ``after``."""
    if newest_first:
        query = query.order_by(created_at.desc(), row_id.desc())
    else:
        query = query.order_by(created_at, row_id)
    if after is not None:
        key, bound = tuple_(created_at, row_id), tuple_(*after)
        query = query.where(key < bound if newest_first else key > bound)
    return query.limit(limit)


def cursor_position(cursor: str | None) -> Position | None:
    """The position of a request's ``cursor`` parameter; None for the first page."""
    return None if cursor is None else decode_position(cursor)


class Keyed(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def created_at(self) -> datetime: ...


K = TypeVar("K", bound=Keyed)


@dataclass(frozen=True)
class Page(Generic[K]):
    """One page of rows and the URL of the next page (None on the last)."""

    items: Sequence[K]
    next: str | None

    @property
    def link(self) -> str | None:
        """The ``Link`` header value that names the next page."""
        return f'<{self.next}>; rel="next"' if self.next else None


def page(rows: Sequence[K], *, limit: int, path: str, params: Mapping[str, Any]) -> Page[K]:
    """The page of ``rows``, which the repository was asked for ``limit + 1`` of: one more row
    than the page says whether another page follows."""
    items = rows[:limit]
    cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        cursor = encode_position(as_utc(last.created_at), last.id)
    return Page(items, next_link(path, {**params, "limit": limit}, cursor))


def next_link(path: str, params: Mapping[str, Any], cursor: str | None) -> str | None:
    """The URL of the next page, keeping the other query parameters; None on the last page."""
    if cursor is None:
        return None
    query = {k: v for k, v in params.items() if v is not None and k != "cursor"}
    query["cursor"] = cursor
    return f"{path}?{urlencode(sorted(query.items()))}"
