"""Refresh tokens: one use each, reuse ends the login, absolute lifetime, and revocation."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from app.config import Settings
from tests.integration.conftest import PASSWORD, age_uses, register_and_login
from tests.server import running_server

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def app_settings(isolated_app_settings: Settings) -> Settings:
    return isolated_app_settings


def refresh(client: TestClient, token: str) -> Any:
    return client.post(f"{API}/auth/refresh", json={"refresh_token": token})


def answer(response: Any) -> tuple[int, str, str | None, dict[str, Any]]:
    """What a client can tell from a refused request, minus what differs on every request."""
    body = {k: v for k, v in response.json().items() if k not in {"request_id"}}
    return (
        response.status_code,
        response.headers["content-type"],
        response.headers.get("www-authenticate"),
        body,
    )


def assert_invalid_grant(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def open_families(database_url: str, user: str) -> int:
    """How many logins of ``user`` are not revoked."""
    count: int = sql(
        database_url,
        "SELECT count(*) FROM refresh_families WHERE user_id = :u AND revoked_at IS NULL",
        u=user,
    )[0][0]
    return count


def test_rotation_returns_a_new_pair_and_the_old_refresh_token_then_fails(
    anonymous: TestClient,
) -> None:
    login = register_and_login(anonymous)
    rotated = refresh(anonymous, login["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    pair = rotated.json()
    assert pair["refresh_token"] != login["refresh_token"]
    assert pair["access_token"] != login["access_token"]
    assert pair["token_type"] == "Bearer" and pair["scope"] == "projects"
    new_headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert anonymous.get(f"{API}/projects", headers=new_headers).status_code == 200
    assert_invalid_grant(refresh(anonymous, login["refresh_token"]))


def test_reusing_a_used_refresh_token_revokes_the_whole_family(
    anonymous: TestClient, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)
    second = refresh(anonymous, login["refresh_token"])
    assert second.status_code == 200
    third = refresh(anonymous, second.json()["refresh_token"])
    assert third.status_code == 200
    newest = third.json()["refresh_token"]
    # A minute later, past the grace for a client's own concurrent refreshes, the attacker
    # replays the first token, already used by the legitimate client.
    age_uses(clean_postgres)
    assert_invalid_grant(refresh(anonymous, login["refresh_token"]))
    # The newest token of that login, never used, no longer works either.
    assert_invalid_grant(refresh(anonymous, newest))
    rows = sql(
        clean_postgres,
        "SELECT revoked_at IS NOT NULL, revoked_reason FROM refresh_families WHERE user_id = :u",
        u=login["id"],
    )
    assert [tuple(r) for r in rows] == [(True, "reuse")]


def test_reuse_within_the_grace_is_refused_without_ending_the_login(
    anonymous: TestClient, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)
    winner = refresh(anonymous, login["refresh_token"])
    assert winner.status_code == 200
    # Another tab of the same client, a moment late with the same token: refused, and
    # nothing else happens.
    late = refresh(anonymous, login["refresh_token"])
    assert_invalid_grant(late)
    assert late.json()["detail"] == "The refresh token was just used; use the new one."
    assert refresh(anonymous, winner.json()["refresh_token"]).status_code == 200
    rows = sql(
        clean_postgres,
        "SELECT revoked_at IS NULL FROM refresh_families WHERE user_id = :u",
        u=login["id"],
    )
    assert [tuple(r) for r in rows] == [(True,)]


def test_reuse_does_not_touch_another_login_of_the_same_user(
    anonymous: TestClient, clean_postgres: str
) -> None:
    first = register_and_login(anonymous)
    other = anonymous.post(
        f"{API}/auth/token", json={"email": first["email"], "password": PASSWORD}
    ).json()
    assert refresh(anonymous, first["refresh_token"]).status_code == 200
    age_uses(clean_postgres)
    assert_invalid_grant(refresh(anonymous, first["refresh_token"]))
    assert refresh(anonymous, other["refresh_token"]).status_code == 200


def test_an_unknown_refresh_token_is_an_invalid_grant(anonymous: TestClient) -> None:
    assert_invalid_grant(refresh(anonymous, "A" * 43))


@pytest.mark.server
def test_concurrent_refreshes_with_one_token_succeed_exactly_once(
    clean_postgres: str, clean_redis: str, key_ring_file: Path, tmp_path: Path
) -> None:
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": clean_postgres,
        "REDIS_URL": clean_redis,
        "JWT_KEYS_FILE": str(key_ring_file),
    }
    with running_server(env, tmp_path / "gunicorn.log", workers=2) as server:
        with httpx.Client(base_url=server.api, timeout=30) as http:
            email = "racer@example.com"
            registered = http.post("/auth/register", json={"email": email, "password": PASSWORD})
            assert registered.status_code == 201, registered.text
            login = http.post("/auth/token", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            token = login.json()["refresh_token"]

        def attempt_pair(_: int) -> httpx.Response:
            with httpx.Client(base_url=server.api, timeout=30) as own:
                return own.post("/auth/refresh", json={"refresh_token": token})

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(attempt_pair, range(20)))
        statuses = [r.status_code for r in responses]
        assert sorted(statuses).count(200) == 1, (statuses, server.log()[-4000:])
        assert set(statuses) == {200, 401}, statuses
        # The losers were the same client racing itself: the winner's new pair still works.
        [winner] = [r.json() for r in responses if r.status_code == 200]
        with httpx.Client(base_url=server.api, timeout=30) as http:
            after = http.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
            assert after.status_code == 200, after.text


def test_a_family_past_its_absolute_lifetime_refuses_an_unused_token(
    anonymous: TestClient, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)
    rotated = refresh(anonymous, login["refresh_token"])
    assert rotated.status_code == 200
    sql(
        clean_postgres,
        "UPDATE refresh_families SET expires_at = now() - interval '1 second' WHERE user_id = :u",
        u=login["id"],
    )
    assert_invalid_grant(refresh(anonymous, rotated.json()["refresh_token"]))


def test_rotation_does_not_extend_the_absolute_lifetime(
    anonymous: TestClient, clean_postgres: str
) -> None:
    login = register_and_login(anonymous)

    def expiry() -> Any:
        return sql(
            clean_postgres,
            "SELECT expires_at FROM refresh_families WHERE user_id = :u",
            u=login["id"],
        )[0][0]

    before = expiry()
    assert refresh(anonymous, login["refresh_token"]).status_code == 200
    assert expiry() == before


def test_logout_revokes_the_family_and_the_access_token_used_for_it(
    anonymous: TestClient,
) -> None:
    login = register_and_login(anonymous)
    rotated = refresh(anonymous, login["refresh_token"]).json()
    headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    response = anonymous.post(
        f"{API}/auth/logout", json={"refresh_token": rotated["refresh_token"]}, headers=headers
    )
    assert response.status_code == 204, response.text
    assert_invalid_grant(refresh(anonymous, rotated["refresh_token"]))
    after = anonymous.get(f"{API}/projects", headers=headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == PROBLEM
    assert after.headers["www-authenticate"].startswith("Bearer")


def test_logout_cannot_revoke_another_users_login(anonymous: TestClient) -> None:
    victim = register_and_login(anonymous)
    attacker = register_and_login(anonymous)
    response = anonymous.post(
        f"{API}/auth/logout",
        json={"refresh_token": victim["refresh_token"]},
        headers=attacker["headers"],
    )
    assert response.status_code == 204
    assert refresh(anonymous, victim["refresh_token"]).status_code == 200


def test_a_password_change_revokes_every_family_of_the_user(
    anonymous: TestClient, clean_postgres: str
) -> None:
    first = register_and_login(anonymous)
    second = anonymous.post(
        f"{API}/auth/token", json={"email": first["email"], "password": PASSWORD}
    ).json()
    bystander = register_and_login(anonymous)
    new_password = "a different long passphrase"
    changed = anonymous.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=first["headers"],
    )
    assert changed.status_code == 200, changed.text
    assert_invalid_grant(refresh(anonymous, first["refresh_token"]))
    assert_invalid_grant(refresh(anonymous, second["refresh_token"]))
    assert open_families(clean_postgres, first["id"]) == 0
    # Another user's login is untouched; the new password works, the old one does not.
    assert refresh(anonymous, bystander["refresh_token"]).status_code == 200
    relogin = anonymous.post(
        f"{API}/auth/token", json={"email": first["email"], "password": new_password}
    )
    assert relogin.status_code == 200
    # A login just after the change, even within its second, gives a token that is accepted.
    fresh = {"Authorization": f"Bearer {relogin.json()['access_token']}"}
    assert anonymous.get(f"{API}/users/me", headers=fresh).status_code == 200
    old = anonymous.post(f"{API}/auth/token", json={"email": first["email"], "password": PASSWORD})
    assert old.status_code == 401


def test_a_wrong_current_password_changes_nothing(anonymous: TestClient) -> None:
    login = register_and_login(anonymous)
    response = anonymous.patch(
        f"{API}/users/me",
        json={"current_password": "not the password", "new_password": "x" * 20},
        headers=login["headers"],
    )
    assert response.status_code == 403
    assert refresh(anonymous, login["refresh_token"]).status_code == 200


@pytest.fixture
def admin_headers(anonymous: TestClient, make_admin: Callable[[str], None]) -> dict[str, str]:
    admin = register_and_login(anonymous)
    make_admin(admin["email"])
    # WHY: scopes are fixed at login; the promotion shows in the next token.
    pair = anonymous.post(f"{API}/auth/token", json={"email": admin["email"], "password": PASSWORD})
    assert pair.status_code == 200 and "admin" in pair.json()["scope"].split()
    return {"Authorization": f"Bearer {pair.json()['access_token']}"}


def test_a_disabled_user_cannot_refresh_or_log_in_and_looks_like_a_wrong_password(
    anonymous: TestClient, admin_headers: dict[str, str]
) -> None:
    victim = register_and_login(anonymous)
    spare = anonymous.post(
        f"{API}/auth/token", json={"email": victim["email"], "password": PASSWORD}
    ).json()
    disabled = anonymous.post(f"{API}/users/{victim['id']}/disable", headers=admin_headers)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["is_disabled"] is True

    # Refresh: the same answer as a refresh token that never existed.
    bogus = refresh(anonymous, "B" * 43)
    for token in (victim["refresh_token"], spare["refresh_token"]):
        refused = refresh(anonymous, token)
        assert_invalid_grant(refused)
        assert answer(refused) == answer(bogus)

    # Login with the right password: the same answer as a wrong password.
    right = anonymous.post(
        f"{API}/auth/token", json={"email": victim["email"], "password": PASSWORD}
    )
    wrong = anonymous.post(
        f"{API}/auth/token", json={"email": victim["email"], "password": "wrong " + PASSWORD}
    )
    assert_invalid_grant(right)
    assert answer(right) == answer(wrong)


def test_a_disabled_users_revived_refresh_token_still_fails(
    anonymous: TestClient, admin_headers: dict[str, str], clean_postgres: str
) -> None:
    """Even if its family were not revoked, the disabled flag alone refuses the refresh."""
    victim = register_and_login(anonymous)
    assert (
        anonymous.post(f"{API}/users/{victim['id']}/disable", headers=admin_headers).status_code
        == 200
    )
    sql(
        clean_postgres,
        "UPDATE refresh_families SET revoked_at = NULL, revoked_reason = NULL WHERE user_id = :u",
        u=victim["id"],
    )
    assert_invalid_grant(refresh(anonymous, victim["refresh_token"]))


def test_a_refresh_grants_the_scopes_of_the_current_role_not_of_the_login(
    anonymous: TestClient, clean_postgres: str, make_admin: Callable[[str], None]
) -> None:
    user = register_and_login(anonymous)
    make_admin(user["email"])
    admin_pair = anonymous.post(
        f"{API}/auth/token", json={"email": user["email"], "password": PASSWORD}
    ).json()
    assert set(admin_pair["scope"].split()) == {"admin", "projects"}
    sql(clean_postgres, "UPDATE users SET role = 'user' WHERE id = :u", u=user["id"])
    demoted = refresh(anonymous, admin_pair["refresh_token"])
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["scope"] == "projects"
    headers = {"Authorization": f"Bearer {demoted.json()['access_token']}"}
    assert anonymous.get(f"{API}/users", headers=headers).status_code == 403
