from __future__ import annotations

import re

import pytest

from runtime.errors import ValidationProblem
from runtime.pagination import decode_cursor, encode_cursor, next_link


def test_a_cursor_round_trips_and_is_url_safe() -> None:
    cursor = encode_cursor("2026-11-26T09:30:00+00:00", "7a9e8b51")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert decode_cursor(cursor, parts=2) == ["2026-11-26T09:30:00+00:00", "7a9e8b51"]


@pytest.mark.parametrize("cursor", ["abc", "____", encode_cursor("only-one")])
def test_a_foreign_cursor_is_a_400_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        decode_cursor(cursor, parts=2)
    assert caught.value.errors[0].pointer == "#/query/cursor"


def test_next_link_keeps_other_parameters_and_ends_on_the_last_page() -> None:
    assert (
        next_link("/p", {"limit": 5, "status": None, "cursor": "old"}, "new")
        == "/p?cursor=new&limit=5"
    )
    assert next_link("/p", {"limit": 5}, None) is None
