"""Entity-tag comparison for If-Match (strong) and If-None-Match (weak), RFC 9110 §13."""

from __future__ import annotations

import pytest

from runtime.conditional import PreconditionFailed, check_if_match, entity_tag, not_modified

CURRENT = entity_tag(3)


def test_a_tag_is_a_quoted_version() -> None:
    assert CURRENT == '"3"'


@pytest.mark.parametrize("header", [None, '"3"', '"1", "3"', "*", ' "2" ,"3" '])
def test_if_match_passes_for_the_current_version_or_any(header: str | None) -> None:
    check_if_match(header, CURRENT)


@pytest.mark.parametrize("header", ['"2"', 'W/"3"', "3", '"3', "garbage", '"2", W/"3"'])
def test_if_match_fails_for_another_a_weak_or_a_malformed_tag(header: str) -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match(header, CURRENT)


def test_if_match_star_fails_when_the_resource_does_not_exist() -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match("*", None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ('"3"', True),
        ('W/"3"', True),
        ('"1", "3"', True),
        ("*", True),
        ('"2"', False),
        ("nonsense", False),
    ],
)
def test_if_none_match_compares_weakly(header: str | None, expected: bool) -> None:
    assert not_modified(header, CURRENT) is expected
