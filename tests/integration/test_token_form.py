"""The token endpoint as RFC 6749 §4.3.2 defines it: a form, as OAuth 2.0 clients send it."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.integration.conftest import API, PASSWORD, register_and_login

FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_the_password_grant_as_a_form_issues_a_working_token_pair(anonymous: TestClient) -> None:
    account = register_and_login(anonymous)
    response = anonymous.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": account["email"], "password": PASSWORD},
        headers=FORM,
    )
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"].lower() == "bearer"
    me = anonymous.get(
        f"{API}/users/me", headers={"authorization": f"Bearer {pair['access_token']}"}
    )
    assert (me.status_code, me.json()["email"]) == (200, account["email"])


def test_the_form_may_carry_a_scope_and_a_client_id(anonymous: TestClient) -> None:
    account = register_and_login(anonymous)
    form = {
        "grant_type": "password",
        "username": account["email"],
        "password": PASSWORD,
        "scope": "projects admin",
        "client_id": "swagger-ui",
    }
    response = anonymous.post(f"{API}/auth/token", data=form, headers=FORM)
    assert response.status_code == 200, response.text


def test_a_wrong_password_in_a_form_is_rfc_6749s_invalid_grant(anonymous: TestClient) -> None:
    account = register_and_login(anonymous)
    form = {"grant_type": "password", "username": account["email"], "password": "wrong" * 4}
    response = anonymous.post(f"{API}/auth/token", data=form, headers=FORM)
    assert response.status_code == 401
    body = response.json()
    assert (body["error"], body["type"].rsplit("/", 1)[1]) == ("invalid_grant", "invalid-grant")
    assert body["error_description"] == body["detail"]


def test_a_bad_form_lists_every_field_and_never_echoes_the_password(
    anonymous: TestClient,
) -> None:
    secret = "a very secret \x00 passphrase"
    form = {"grant_type": "client_credentials", "username": "nobody", "password": secret, "x": "1"}
    response = anonymous.post(f"{API}/auth/token", data=form, headers=FORM)
    assert response.status_code == 400
    pointers = sorted(e["pointer"] for e in response.json()["errors"])
    assert pointers == ["#/grant_type", "#/password", "#/username", "#/x"]
    assert "secret" not in response.text


def test_neither_or_two_different_account_names_is_a_400(anonymous: TestClient) -> None:
    neither = anonymous.post(f"{API}/auth/token", json={"password": PASSWORD})
    both = anonymous.post(
        f"{API}/auth/token",
        json={"email": "a@example.com", "username": "b@example.com", "password": PASSWORD},
    )
    for response in (neither, both):
        assert response.status_code == 400
        assert [e["pointer"] for e in response.json()["errors"]] == ["#/email"]


def test_json_login_is_unchanged(anonymous: TestClient) -> None:
    account = register_and_login(anonymous)
    response = anonymous.post(
        f"{API}/auth/token", json={"email": account["email"], "password": PASSWORD}
    )
    assert response.status_code == 200


def test_the_per_account_login_limit_counts_json_and_form_attempts_together(
    anonymous: TestClient,
) -> None:
    account = register_and_login(anonymous)  # the first of the five attempts a minute
    for _ in range(4):
        wrong = {"email": account["email"], "password": "wrong" * 4}
        assert anonymous.post(f"{API}/auth/token", json=wrong).status_code == 401
    form = {"grant_type": "password", "username": account["email"], "password": PASSWORD}
    limited = anonymous.post(f"{API}/auth/token", data=form, headers=FORM)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
