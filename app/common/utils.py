"""Small helpers the domains share: keyset cursors over (created_at, id), UTC times."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from runtime.pagination import decode_position, encode_position

API_PREFIX = "/api/v1"


class Keyed(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def created_at(self) -> datetime: ...


K = TypeVar("K", bound=Keyed)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC: SQLite hands back naive datetimes for what was stored as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cursor_position(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    return None if cursor is None else decode_position(cursor)


def split_page(rows: Sequence[K], limit: int) -> tuple[Sequence[K], str | None]:
    """The page and the cursor of the next one; the repo was asked for ``limit + 1`` rows."""
    page = rows[:limit]
    if len(rows) <= limit or not page:
        return page, None
    last = page[-1]
    return page, encode_position(as_utc(last.created_at), last.id)


def link_header(url: str | None) -> str | None:
    return f'<{url}>; rel="next"' if url else None
