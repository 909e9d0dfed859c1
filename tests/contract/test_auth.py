"""What the schemathesis run cannot show about authentication, against the same Gunicorn.

* Every operation the spec secures refuses a missing, malformed, foreign-signed or revoked
  access token with 401 and ``WWW-Authenticate``. schemathesis's ``ignored_auth`` check probes
  only ``apiKey``/``http``/``basic`` schemes, not this API's ``oauth2`` scheme, so its 0 findings
  prove nothing here; this test does the probing for every secured operation of the spec.
* The ``x-rate-limit`` policies answer 429 with ``Retry-After``: the schemathesis run has them
  off (see test_schemathesis.py), these tests run with them on."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.auth import KeyRing, KeyRingSource, TokenService
from tests.contract.conftest import REQUEST_TIMEOUT_S, ContractUser
from tests.server import Server

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]

METHODS = ("get", "put", "post", "patch", "delete")


def secured_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(method, path with made-up ids, operationId) of each operation that needs a token."""
    default = spec.get("security") or []
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            if operation.get("security", default):
                concrete = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
                yield method.upper(), concrete, operation["operationId"]


def foreign_token(tmp_path: Path, subject: str) -> str:
    """A well-formed ES256 access token for a real user, signed by a key the server never had."""
    from runtime.settings import RuntimeSettings

    KeyRing.generate(tmp_path / "foreign-keys.json")
    settings = RuntimeSettings()
    service = TokenService(
        KeyRingSource(tmp_path / "foreign-keys.json"),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return service.issue_access_token(subject, ("projects", "admin")).token


def test_every_secured_operation_refuses_requests_without_a_valid_token(
    contract_server: Server, alice: ContractUser, tmp_path: Path
) -> None:
    spec = httpx.get(f"{contract_server.api}/openapi.json", timeout=REQUEST_TIMEOUT_S).json()
    operations = list(secured_operations(spec))
    assert len(operations) >= 12, operations  # projects, tasks, users and logout
    me = httpx.get(
        f"{contract_server.api}/users/me", headers=alice.headers, timeout=REQUEST_TIMEOUT_S
    )
    assert me.status_code == 200, me.text
    credentials: dict[str, dict[str, str]] = {
        "no token": {},
        "not a JWT": {"Authorization": "Bearer not-a-token"},
        "another scheme": {"Authorization": f"Basic {alice.access_token}"},
        "signed by a foreign key": {
            "Authorization": f"Bearer {foreign_token(tmp_path, me.json()['id'])}"
        },
    }
    # A body that is valid for every operation, so a 400 cannot come before the 401.
    bodies = {
        "createProject": {"name": "x"},
        "updateProject": {"name": "x"},
        "createTask": {"title": "x"},
        "updateTask": {"title": "x"},
        "updateMe": {"current_password": alice.password, "new_email": "x@example.com"},
        "logout": {"refresh_token": "x"},
    }
    refused = []
    for method, path, operation_id in operations:
        for what, headers in credentials.items():
            response = httpx.request(
                method,
                f"{contract_server.base_url}/api/v1{path}",
                headers=headers,
                json=bodies.get(operation_id),
                timeout=REQUEST_TIMEOUT_S,
            )
            if response.status_code != 401 or "WWW-Authenticate" not in response.headers:
                refused.append((operation_id, what, response.status_code, response.text[:200]))
            else:
                assert response.headers["content-type"] == "application/problem+json"
                challenge = response.headers["WWW-Authenticate"]
                assert challenge.startswith("Bearer"), (operation_id, what, challenge)
    assert refused == [], refused


def test_a_logged_out_access_token_is_refused_everywhere(
    contract_server: Server, contract_users: dict[str, ContractUser]
) -> None:
    bob = contract_users["bob"]
    login = httpx.post(
        f"{contract_server.api}/auth/token",
        json={"email": bob.email, "password": bob.password},
        timeout=REQUEST_TIMEOUT_S,
    ).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    logout = httpx.post(
        f"{contract_server.api}/auth/logout",
        json={"refresh_token": login["refresh_token"]},
        headers=headers,
        timeout=REQUEST_TIMEOUT_S,
    )
    assert logout.status_code == 204, logout.text

    for method, path in (("GET", "/projects"), ("GET", "/users/me"), ("POST", "/auth/logout")):
        response = httpx.request(
            method,
            f"{contract_server.api}{path}",
            headers=headers,
            json={"refresh_token": login["refresh_token"]} if method == "POST" else None,
            timeout=REQUEST_TIMEOUT_S,
        )
        assert response.status_code == 401, (path, response.text)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    refreshed = httpx.post(
        f"{contract_server.api}/auth/refresh",
        json={"refresh_token": login["refresh_token"]},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert refreshed.status_code == 401, refreshed.text
    # bob's other login (the fixture's) is untouched.
    assert (
        httpx.get(
            f"{contract_server.api}/users/me", headers=bob.headers, timeout=REQUEST_TIMEOUT_S
        ).status_code
        == 200
    )


def assert_too_many_requests(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_logins_are_limited_per_account(
    contract_server: Server, contract_users: dict[str, ContractUser]
) -> None:
    """x-rate-limit 5/minute keyed by the e-mail, whatever its case; the fixture's login counted.

    The limiter's sliding window weighs the previous minute's hits by the time left, so the
    fixture's login may count a little less than 1: the 429 comes at the 5th or 6th login."""
    alice, bob = contract_users["alice"], contract_users["bob"]
    statuses = []
    for attempt in range(6):
        email = alice.email.upper() if attempt % 2 else alice.email
        wrong = {"email": email, "password": "not alice's password"}
        response = httpx.post(
            f"{contract_server.api}/auth/token", json=wrong, timeout=REQUEST_TIMEOUT_S
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert_too_many_requests(response)
            break
    assert statuses in ([401] * 4 + [429], [401] * 5 + [429]), statuses
    # Now even the right password is refused, for this account only.
    right = {"email": alice.email, "password": alice.password}
    assert_too_many_requests(
        httpx.post(f"{contract_server.api}/auth/token", json=right, timeout=REQUEST_TIMEOUT_S)
    )
    other = httpx.post(
        f"{contract_server.api}/auth/token",
        json={"email": bob.email, "password": bob.password},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert other.status_code == 200, other.text


def test_registrations_are_limited_per_address(
    contract_server: Server, contract_users: dict[str, ContractUser]
) -> None:
    """x-rate-limit 10/hour keyed by the client address: the fixture registered two accounts
    (counted a little less than 2 if an hour's window began in between, as for logins)."""
    register = f"{contract_server.api}/auth/register"
    statuses = []
    for number in range(10):
        body = {"email": f"user{number}@contract.example", "password": "a long enough passphrase"}
        response = httpx.post(register, json=body, timeout=REQUEST_TIMEOUT_S)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert_too_many_requests(response)
            break
    assert statuses[:8] == [201] * 8 and 429 in statuses[8:], statuses
