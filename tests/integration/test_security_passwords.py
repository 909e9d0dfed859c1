"""Passwords and login: one answer for every failure, rehash on login, length bounds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from runtime.errors import TYPE_BASE
from runtime.passwords import Passwords
from tests.integration.conftest import PASSWORD, register_and_login

API = "/api/v1"
PROBLEM = "application/problem+json"
STRONG_PARAMETERS = "$m=19456,t=2,p=1$"


def login(client: TestClient, email: str, password: str) -> Any:
    return client.post(f"{API}/auth/token", json={"email": email, "password": password})


def answer(response: Any) -> tuple[int, str, str | None, dict[str, Any]]:
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return (
        response.status_code,
        response.headers["content-type"],
        response.headers.get("www-authenticate"),
        body,
    )


def test_an_unknown_account_and_a_wrong_password_get_the_same_answer(
    anonymous: TestClient,
) -> None:
    known = register_and_login(anonymous)
    wrong_password = login(anonymous, known["email"], "wrong " + PASSWORD)
    unknown_account = login(anonymous, f"nobody-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    assert wrong_password.status_code == 401
    assert wrong_password.headers["content-type"] == PROBLEM
    assert answer(wrong_password) == answer(unknown_account)
    # The same answer, and the right one: a challenge and an invalid-grant problem.
    assert wrong_password.headers["www-authenticate"] == "Bearer"
    body = wrong_password.json()
    assert (body["type"], body["status"]) == (TYPE_BASE + "invalid-grant", 401)
    assert body["detail"] == "The e-mail address or the password is wrong."
    assert known["email"] not in wrong_password.text


def test_a_differently_cased_email_logs_into_the_same_account(anonymous: TestClient) -> None:
    known = register_and_login(anonymous)
    assert login(anonymous, known["email"].upper(), PASSWORD).status_code == 200


def test_a_weak_stored_hash_is_rehashed_on_a_successful_login(
    anonymous: TestClient, clean_postgres: str
) -> None:
    weak = Passwords(memory_kib=1024, time_cost=1).hash(PASSWORD)
    assert "$m=1024,t=1,p=1$" in weak
    email = f"legacy-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    engine = create_engine(clean_postgres)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, role, is_disabled,"
                    " password_changed_at, created_at, updated_at)"
                    " VALUES (:id, :email, :hash, 'user', false, :now, :now, :now)"
                ),
                {"id": uuid.uuid4(), "email": email, "hash": weak, "now": now},
            )
        response = login(anonymous, email, PASSWORD)
        assert response.status_code == 200, response.text
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT password_hash FROM users WHERE email = :email"), {"email": email}
            ).scalar_one()
    finally:
        engine.dispose()
    assert STRONG_PARAMETERS in stored, stored
    assert Passwords().verify(stored, PASSWORD).ok
    assert login(anonymous, email, PASSWORD).status_code == 200


def test_a_failed_login_does_not_rehash_a_weak_hash(
    anonymous: TestClient, clean_postgres: str
) -> None:
    weak = Passwords(memory_kib=1024, time_cost=1).hash(PASSWORD)
    email = f"legacy-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    engine = create_engine(clean_postgres)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, role, is_disabled,"
                    " password_changed_at, created_at, updated_at)"
                    " VALUES (:id, :email, :hash, 'user', false, :now, :now, :now)"
                ),
                {"id": uuid.uuid4(), "email": email, "hash": weak, "now": now},
            )
        assert login(anonymous, email, "wrong " + PASSWORD).status_code == 401
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT password_hash FROM users WHERE email = :email"), {"email": email}
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored == weak


def test_passwords_are_stored_as_argon2id_never_in_clear(
    anonymous: TestClient, clean_postgres: str
) -> None:
    known = register_and_login(anonymous)
    engine = create_engine(clean_postgres)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT password_hash FROM users WHERE email = :email"),
                {"email": known["email"]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$") and STRONG_PARAMETERS in stored
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    "password",
    ["", "a" * 11, "short pass!", "a" * 129, "b" * 1000],
    ids=["empty", "11-chars", "11-chars-spaces", "129-chars", "1000-chars"],
)
def test_registration_refuses_a_password_outside_12_to_128_characters(
    anonymous: TestClient, clean_postgres: str, password: str
) -> None:
    email = f"short-{uuid.uuid4().hex[:8]}@example.com"
    response = anonymous.post(f"{API}/auth/register", json={"email": email, "password": password})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    pointers = [error["pointer"] for error in response.json()["errors"]]
    assert pointers == ["#/password"]
    engine = create_engine(clean_postgres)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM users WHERE email = :email"), {"email": email}
            ).scalar_one()
    finally:
        engine.dispose()
    assert count == 0


@pytest.mark.parametrize("length", [12, 128])
def test_registration_accepts_passwords_at_the_length_bounds(
    anonymous: TestClient, length: int
) -> None:
    email = f"bound-{uuid.uuid4().hex[:8]}@example.com"
    password = ("p4ss word " * 13)[:length]
    response = anonymous.post(f"{API}/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    assert login(anonymous, email, password).status_code == 200


def test_registering_an_existing_email_in_another_case_is_a_conflict(
    anonymous: TestClient,
) -> None:
    known = register_and_login(anonymous)
    response = anonymous.post(
        f"{API}/auth/register", json={"email": known["email"].upper(), "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == TYPE_BASE + "email-already-registered"


SECRET = "Zq9-" + "s3cret-value-" * 12  # 160 characters: too long everywhere a password goes


@pytest.mark.parametrize(
    ("operation", "body"),
    [
        ("register", {"email": "echo@example.com", "password": SECRET}),
        ("createToken", {"email": "echo@example.com", "password": SECRET}),
        ("updateMe", {"current_password": SECRET, "new_password": "long enough password"}),
        ("updateMe-new", {"current_password": PASSWORD, "new_password": SECRET}),
    ],
    ids=["register", "createToken", "updateMe-current", "updateMe-new"],
)
def test_a_refused_password_is_never_echoed_in_the_error_response(
    anonymous: TestClient, operation: str, body: dict[str, str]
) -> None:
    """A password is ``writeOnly``/``format: password``: a 400 names the field, not the value.

    Error bodies end up in client logs, proxies and bug reports; the value must not."""
    urls = {
        "register": ("POST", f"{API}/auth/register"),
        "createToken": ("POST", f"{API}/auth/token"),
        "updateMe": ("PATCH", f"{API}/users/me"),
        "updateMe-new": ("PATCH", f"{API}/users/me"),
    }
    method, url = urls[operation]
    headers = register_and_login(anonymous)["headers"] if method == "PATCH" else {}
    response = anonymous.request(method, url, json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"], response.text
    assert SECRET not in response.text
    assert SECRET[:40] not in response.text
