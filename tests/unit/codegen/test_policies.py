"""The ``x-rate-limit`` grammar, owned by codegen: every bad policy is a located issue, and a
good one resolves to the limits the runtime counts."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.policies import RateLimit, check, rate_limits

WHERE = ("paths", "/login", "post")
AT = "#/paths/~1login/post/x-rate-limit"


@pytest.mark.parametrize(
    ("policy", "pointer", "message"),
    [
        ({"limit": "ten per minute"}, f"{AT}/limit", "limit 'ten per minute' must look like"),
        ({"limit": "0/minute"}, f"{AT}/limit", "limit '0/minute' must look like"),
        ({}, f"{AT}/limit", "limit None must look like"),
        ({"limit": "1/minute", "key": "cookie"}, f"{AT}/key", "key 'cookie' must be ip"),
        ({"limit": "1/minute", "key": "body:"}, f"{AT}/key", "key 'body:' must be ip"),
        ({"limit": "1/minute", "fail": "maybe"}, f"{AT}/fail", "fail 'maybe' must be open"),
        ({"limit": "1/minute", "burst": 3}, f"{AT}/burst", "unknown x-rate-limit field"),
        ("10/minute", AT, "x-rate-limit must be a mapping"),
        ([], AT, "x-rate-limit must be a mapping"),
        ([{"limit": "1/second"}, {}], f"{AT}/1/limit", "limit None must look like"),
    ],
)
def test_a_bad_policy_is_one_located_issue(policy: Any, pointer: str, message: str) -> None:
    (issue,) = check({"x-rate-limit": policy}, WHERE)
    assert issue.pointer == pointer
    assert message in issue.message


def test_a_bad_document_default_is_located_at_the_document() -> None:
    (issue,) = check({"x-rate-limit": True}, ())
    assert issue.pointer == "#/x-rate-limit"


def test_an_operation_s_own_policy_wins_and_false_exempts_it() -> None:
    document = {"x-rate-limit": {"limit": "100/minute"}}
    assert rate_limits({}, document) == (RateLimit(("100/minute",), "ip", "open"),)
    assert rate_limits({"x-rate-limit": False}, document) == ()
    own = {"x-rate-limit": {"limit": "5/minute; 30/hour", "key": "body:email", "fail": "closed"}}
    assert rate_limits(own, document) == (
        RateLimit(("5/minute", "30/hour"), "body:email", "closed"),
    )
