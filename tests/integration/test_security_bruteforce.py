"""Password guessing: the login limit per e-mail, the same for known and unknown accounts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.config import Settings
from app.modules.operations import POLICIES
from runtime.ratelimit import rate_limit_policies
from tests.integration.conftest import PASSWORD

API = "/api/v1"
PROBLEM = "application/problem+json"
LOGIN_POLICIES = rate_limit_policies(POLICIES)["createToken"]
# The per-account policy of the login (another one limits each client address).
LOGIN_POLICY = next(p for p in LOGIN_POLICIES if p.key == "body")
# The first limit a burst of guesses against one account runs into.
BURST = min(item.amount for item in LOGIN_POLICY.limits)

pytestmark = pytest.mark.redis


@pytest.fixture
def app_settings(isolated_app_settings: Settings) -> Settings:
    return isolated_app_settings


def register(client: TestClient) -> str:
    email = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    response = client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email


def login(client: TestClient, email: str, password: str) -> Any:
    return client.post(f"{API}/auth/token", json={"email": email, "password": password})


def guess(client: TestClient, email: str, attempts: int) -> list[Any]:
    return [login(client, email, f"guess number {i:04d}") for i in range(attempts)]


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) >= 1
    assert response.headers["ratelimit-policy"] == ", ".join(p.header for p in LOGIN_POLICIES)
    fields = dict(part.strip().split("=", 1) for part in response.headers["ratelimit"].split(","))
    assert fields["remaining"] == "0"
    assert int(fields["limit"]) == BURST
    assert int(fields["reset"]) >= 1
    assert response.json()["status"] == 429


def remaining(response: Any) -> str:
    fields = dict(part.strip().split("=", 1) for part in response.headers["ratelimit"].split(","))
    return fields["remaining"]


def shape(response: Any) -> tuple[int, str, str, str]:
    body = response.json()
    return response.status_code, response.headers["content-type"], body["type"], body["title"]


def test_the_login_policy_is_keyed_by_email_and_fails_closed() -> None:
    # `email` in JSON, `username` in the RFC 6749 form: one counter for one account.
    assert LOGIN_POLICY.key == "body" and LOGIN_POLICY.body_field == "email,username"
    assert not LOGIN_POLICY.fail_open
    assert BURST >= 1


def test_guessing_is_limited_identically_for_a_known_and_an_unknown_account(
    anonymous: TestClient,
) -> None:
    known = register(anonymous)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"

    known_answers = guess(anonymous, known, BURST + 2)
    unknown_answers = guess(anonymous, unknown, BURST + 2)

    expected = [401] * BURST + [429, 429]
    assert [r.status_code for r in known_answers] == expected
    assert [r.status_code for r in unknown_answers] == expected
    for known_response, unknown_response in zip(known_answers, unknown_answers, strict=True):
        assert shape(known_response) == shape(unknown_response)
        assert known_response.headers.get("www-authenticate") == unknown_response.headers.get(
            "www-authenticate"
        )
        assert remaining(known_response) == remaining(unknown_response)
    for response in (*known_answers[BURST:], *unknown_answers[BURST:]):
        assert_rate_limited(response)


def test_the_right_password_does_not_get_through_once_the_limit_is_reached(
    anonymous: TestClient,
) -> None:
    known = register(anonymous)
    guess(anonymous, known, BURST)
    assert_rate_limited(login(anonymous, known, PASSWORD))


def test_changing_the_case_of_the_email_does_not_reset_the_count(anonymous: TestClient) -> None:
    known = register(anonymous)
    guess(anonymous, known, BURST)
    assert_rate_limited(login(anonymous, known.upper(), "another guess!"))
    assert_rate_limited(login(anonymous, known.capitalize(), "another guess!"))


def test_another_account_is_not_affected_by_the_first_ones_limit(anonymous: TestClient) -> None:
    first = register(anonymous)
    second = register(anonymous)
    guess(anonymous, first, BURST + 1)
    assert_rate_limited(login(anonymous, first, PASSWORD))

    wrong = login(anonymous, second, "wrong " + PASSWORD)
    assert wrong.status_code == 401
    right = login(anonymous, second, PASSWORD)
    assert right.status_code == 200, right.text
    assert "ratelimit" in right.headers
