from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
import yaml

from runtime.errors import ValidationProblem
from runtime.pagination import CURSOR_PATTERN, decode_position, encode_position, next_link
from tests.server import ROOT

ID = uuid.UUID("7a9e8b51-0000-4000-8000-00000000002a")
SPEC = ROOT / "openapi.yaml"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 26, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        datetime(1970, 1, 1, tzinfo=UTC),
    ],
)
def test_a_position_round_trips_to_the_microsecond(moment: datetime) -> None:
    cursor = encode_position(moment, ID)
    assert CURSOR_PATTERN.fullmatch(cursor)
    assert decode_position(cursor) == (moment, ID)


def test_the_spec_states_exactly_the_shape_the_runtime_accepts() -> None:
    cursor = yaml.safe_load(SPEC.read_text())["components"]["parameters"]["Cursor"]["schema"]
    assert cursor["pattern"] == f"^{CURSOR_PATTERN.pattern}$"
    assert cursor["maxLength"] == len(encode_position(datetime(9999, 12, 31, tzinfo=UTC), ID))


def test_any_cursor_of_the_right_shape_is_a_position_even_past_the_last_instant() -> None:
    assert decode_position("0." + "0" * 32) == (datetime(1970, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
    latest, _ = decode_position("9" * 18 + "." + "f" * 32)
    assert latest == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "cursor", ["abc", "1." + "0" * 31, "-1." + "0" * 32, "1." + "A" * 32, "1" * 19 + "." + "0" * 32]
)
def test_a_foreign_cursor_is_a_400_naming_the_cursor(cursor: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        decode_position(cursor)
    assert caught.value.errors[0].pointer == "#/query/cursor"


def test_next_link_keeps_other_parameters_and_ends_on_the_last_page() -> None:
    assert (
        next_link("/p", {"limit": 5, "status": None, "cursor": "old"}, "new")
        == "/p?cursor=new&limit=5"
    )
    assert next_link("/p", {"limit": 5}, None) is None
