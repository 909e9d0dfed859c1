"""The auth service's rules against in-memory repositories and a real token service."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from prometheus_client import REGISTRY

from app.common.errors import EmailAlreadyRegistered, InvalidGrant
from app.common.orm import utcnow
from app.modules.auth import schemas as s
from app.modules.auth import service as service_module
from app.modules.auth.service import AuthServiceImpl, hash_refresh_token
from app.modules.components import Credentials, RefreshRequest, Registration, TokenPair
from runtime.auth import Authenticator, Denylist, KeyRing, KeyRingSource, Principal, TokenService
from runtime.errors import ValidationProblem
from runtime.passwords import Passwords
from tests.unit.app.fakes import (
    FakeRefreshTokenRepo,
    FakeRevocationRepo,
    FakeUserRepo,
    RecordingDenylist,
)

PASSWORD = "a long enough passphrase"
ACCESS_TTL_S = 900
REFRESH_TTL_S = 86_400
# WHY: the cheapest argon2 parameters; these tests check the rules, not the hash's cost.
CHEAP = {"memory_kib": 8, "time_cost": 1, "parallelism": 1}


@pytest.fixture
def keys(tmp_path: Path) -> KeyRingSource:
    KeyRing.generate(tmp_path / "ring.json")
    return KeyRingSource(tmp_path / "ring.json", check_interval_s=0)


@pytest.fixture
def auth(keys: KeyRingSource) -> AuthServiceImpl:
    tokens = TokenService(
        keys, issuer="https://issuer.test", audience="api", access_token_ttl_s=ACCESS_TTL_S
    )
    users, refresh_tokens = FakeUserRepo(), FakeRefreshTokenRepo()
    revocations = FakeRevocationRepo(users, refresh_tokens)
    denylist = RecordingDenylist(revocations, access_token_ttl_s=ACCESS_TTL_S)
    return AuthServiceImpl(
        users=users,  # type: ignore[arg-type]
        refresh_tokens=refresh_tokens,  # type: ignore[arg-type]
        revocations=revocations,  # type: ignore[arg-type]
        passwords=Passwords(**CHEAP),
        authenticator=Authenticator(tokens, denylist, keys),
        refresh_token_ttl_s=REFRESH_TTL_S,
    )


def register(auth: AuthServiceImpl, email: str = "Ada@Example.com") -> s.Register201:
    return auth.register(
        s.RegisterRequest(body=Registration.model_validate({"email": email, "password": PASSWORD}))
    )


def login(
    auth: AuthServiceImpl, email: str = "ada@example.com", password: str = PASSWORD
) -> TokenPair:
    body = Credentials.model_validate({"email": email, "password": password})
    return auth.create_token(s.CreateTokenRequest(body=body)).body


def refresh(auth: AuthServiceImpl, token: str) -> TokenPair:
    request = s.RefreshTokenRequest(body=RefreshRequest(refresh_token=token))
    return auth.refresh_token(request).body


def principal(auth: AuthServiceImpl, pair: TokenPair) -> Principal:
    return auth.authenticator.tokens.verify_access_token(pair.access_token)


def invalid_grant(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(InvalidGrant) as raised:
        call()
    assert raised.value.detail == message
    assert raised.value.status == 401


WRONG_LOGIN = "The e-mail address or the password is wrong."
WRONG_REFRESH = "The refresh token is not valid."


def test_the_refresh_token_hash_is_its_sha256() -> None:
    assert hash_refresh_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_a_token_that_is_not_ascii_still_hashes_rather_than_raising() -> None:
    # The spec's pattern keeps such a token out of the body; a form or a header is a
    # different parser, and a hash that raises would be a 500.
    assert hash_refresh_token("a\u00e9") == hashlib.sha256(b"a?").hexdigest()


def test_a_refresh_token_carries_256_random_bits(auth: AuthServiceImpl) -> None:
    register(auth)
    tokens = {login(auth).refresh_token for _ in range(3)}
    assert len(tokens) == 3
    # 32 bytes in unpadded URL-safe base64.
    assert {len(token) for token in tokens} == {43}


def test_register_stores_a_lower_cased_address_and_a_hash_and_says_where_the_user_is(
    auth: AuthServiceImpl,
) -> None:
    created = register(auth)
    assert created.status_code == 201
    assert created.headers.location == "/api/v1/users/me"
    assert created.body.email == "ada@example.com"
    (user,) = auth.users.rows.values()  # type: ignore[attr-defined]
    assert user.email == "ada@example.com"
    assert user.password_hash != PASSWORD
    assert auth.passwords.verify(user.password_hash, PASSWORD).ok


def test_an_address_registered_twice_in_any_case_or_in_a_race_is_a_conflict(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    with pytest.raises(EmailAlreadyRegistered) as raised:
        register(auth, "ADA@example.COM")
    assert raised.value.detail == "An account with this e-mail address exists."
    auth.users.taken_on_insert = True  # type: ignore[attr-defined]
    with pytest.raises(EmailAlreadyRegistered) as raced:
        register(auth, "grace@example.com")
    assert raced.value.detail == "An account with this e-mail address exists."


def test_a_login_returns_a_bearer_pair_whose_access_token_lasts_its_ttl(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    before = int(time.time())
    pair = login(auth, "ADA@example.com")
    after = int(time.time())
    assert pair.token_type == "Bearer"
    assert ACCESS_TTL_S - (after - before) - 1 <= pair.expires_in <= ACCESS_TTL_S
    who = principal(auth, pair)
    (user,) = auth.users.rows.values()  # type: ignore[attr-defined]
    assert who.subject == str(user.id)
    assert who.scopes == frozenset({"projects"}) and pair.scope == "projects"
    assert before + ACCESS_TTL_S <= who.expires_at <= after + ACCESS_TTL_S


def test_a_login_starts_a_family_that_ends_after_the_refresh_ttl(auth: AuthServiceImpl) -> None:
    register(auth)
    before = utcnow()
    pair = login(auth)
    found = auth.refresh_tokens.find(hash_refresh_token(pair.refresh_token))
    assert found is not None
    token, family = found
    assert token.family_id == family.id and token.used_at is None
    assert family.user_id == next(iter(auth.users.rows))  # type: ignore[attr-defined]
    lifetime = family.expires_at - before
    assert timedelta(seconds=REFRESH_TTL_S) <= lifetime <= timedelta(seconds=REFRESH_TTL_S + 5)
    # Only the digest is kept.
    assert auth.refresh_tokens.find(pair.refresh_token) is None


def test_an_access_token_names_its_login_so_ending_the_login_ends_it(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    pair = login(auth)
    _, family = auth.refresh_tokens.find(hash_refresh_token(pair.refresh_token))  # type: ignore[misc]
    assert principal(auth, pair).claims["sid"] == str(family.id)
    assert principal(auth, refresh(auth, pair.refresh_token)).claims["sid"] == str(family.id)


def test_a_reuse_tells_the_cache_and_is_refused_even_when_the_cache_is_down(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    first = login(auth)
    refresh(auth, first.refresh_token)
    _, family = auth.refresh_tokens.find(hash_refresh_token(first.refresh_token))  # type: ignore[misc]
    denylist = auth.authenticator.denylist
    denylist.failing = True  # type: ignore[attr-defined]
    invalid_grant(lambda: refresh(auth, first.refresh_token), WRONG_REFRESH)
    assert family.revoked_reason == "reuse"
    denylist.failing = False  # type: ignore[attr-defined]
    second = login(auth)
    refresh(auth, second.refresh_token)
    invalid_grant(lambda: refresh(auth, second.refresh_token), WRONG_REFRESH)
    _, other = auth.refresh_tokens.find(hash_refresh_token(second.refresh_token))  # type: ignore[misc]
    assert [key for key, _, _ in denylist.cached] == [f"{Denylist.PREFIX}sid:{other.id}"]  # type: ignore[attr-defined]


def test_an_administrator_gets_the_admin_scope(auth: AuthServiceImpl) -> None:
    register(auth)
    next(iter(auth.users.rows.values())).role = "admin"  # type: ignore[attr-defined]
    pair = login(auth)
    assert pair.scope == "projects admin"
    assert principal(auth, pair).scopes == frozenset({"projects", "admin"})


def test_a_wrong_password_an_unknown_account_and_a_disabled_one_get_one_answer(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    invalid_grant(lambda: login(auth, password="not the passphrase"), WRONG_LOGIN)
    invalid_grant(lambda: login(auth, email="nobody@example.com"), WRONG_LOGIN)
    next(iter(auth.users.rows.values())).is_disabled = True  # type: ignore[attr-defined]
    invalid_grant(lambda: login(auth), WRONG_LOGIN)


def test_a_login_reads_the_account_under_a_row_lock(auth: AuthServiceImpl) -> None:
    """A change of the password or a disable must wait for a login that read the old row
    (tests/integration/test_security_login_race.py plays the race on PostgreSQL)."""
    register(auth)
    login(auth, email="Ada@Example.com")
    invalid_grant(lambda: login(auth, email="nobody@example.com"), WRONG_LOGIN)
    assert auth.users.locked == ["ada@example.com", "nobody@example.com"]  # type: ignore[attr-defined]


def test_a_refresh_asks_again_after_locking_the_user_whether_its_login_was_ended(
    auth: AuthServiceImpl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password change that committed between the family's read and the user's lock
    revoked the family; the refresh sees it then and issues nothing."""
    register(auth)
    pair = login(auth)
    users, families = auth.users, auth.refresh_tokens
    read = users.get_locked  # type: ignore[attr-defined]

    def changed_meanwhile(user_id: uuid.UUID) -> object:
        families.revoke_all_of_user(user_id, reason="password-change")  # type: ignore[attr-defined]
        return read(user_id)

    monkeypatch.setattr(users, "get_locked", changed_meanwhile)
    invalid_grant(lambda: refresh(auth, pair.refresh_token), WRONG_REFRESH)


def test_a_hash_made_with_weaker_parameters_is_upgraded_at_login(auth: AuthServiceImpl) -> None:
    register(auth)
    user = next(iter(auth.users.rows.values()))  # type: ignore[attr-defined]
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8).hash(PASSWORD)
    assert auth.passwords.verify(weak, PASSWORD).needs_rehash
    user.password_hash = weak
    login(auth)
    assert user.password_hash != weak
    assert not auth.passwords.verify(user.password_hash, PASSWORD).needs_rehash
    login(auth)


def test_a_refresh_rotates_within_the_same_family(auth: AuthServiceImpl) -> None:
    register(auth)
    first = login(auth)
    second = refresh(auth, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.token_type == "Bearer"
    assert ACCESS_TTL_S - 5 <= second.expires_in <= ACCESS_TTL_S
    old = auth.refresh_tokens.find(hash_refresh_token(first.refresh_token))
    new = auth.refresh_tokens.find(hash_refresh_token(second.refresh_token))
    assert old is not None and new is not None
    assert old[0].used_at is not None and new[0].used_at is None
    assert old[1].id == new[1].id
    assert principal(auth, second).subject == principal(auth, first).subject


def test_a_reused_refresh_token_ends_the_whole_login(auth: AuthServiceImpl) -> None:
    register(auth)
    first = login(auth)
    second = refresh(auth, first.refresh_token)
    invalid_grant(lambda: refresh(auth, first.refresh_token), WRONG_REFRESH)
    family = auth.refresh_tokens.find(hash_refresh_token(second.refresh_token))[1]  # type: ignore[index]
    assert family.revoked_at is not None and family.revoked_reason == "reuse"
    invalid_grant(lambda: refresh(auth, second.refresh_token), WRONG_REFRESH)


def test_without_a_grace_a_reuse_ends_the_login_even_if_its_first_use_looks_later(
    auth: AuthServiceImpl,
) -> None:
    assert auth.refresh_reuse_grace_s == 0
    register(auth)
    first = login(auth)
    refresh(auth, first.refresh_token)
    token, family = auth.refresh_tokens.find(hash_refresh_token(first.refresh_token))  # type: ignore[misc]
    # WHY: the first use was stamped by another instance whose clock is a little ahead (or
    # this one's clock stepped back): its used_at is after this instance's now.
    token.used_at += timedelta(seconds=1)
    invalid_grant(lambda: refresh(auth, first.refresh_token), WRONG_REFRESH)
    assert family.revoked_at is not None and family.revoked_reason == "reuse"


def test_a_reuse_within_the_grace_is_refused_and_a_later_one_ends_the_login(
    auth: AuthServiceImpl,
) -> None:
    auth.refresh_reuse_grace_s = 5
    register(auth)
    first = login(auth)
    second = refresh(auth, first.refresh_token)
    invalid_grant(
        lambda: refresh(auth, first.refresh_token),
        "The refresh token was just used; use the new one.",
    )
    token, family = auth.refresh_tokens.find(hash_refresh_token(first.refresh_token))  # type: ignore[misc]
    assert family.revoked_at is None
    assert refresh(auth, second.refresh_token).refresh_token
    assert token.used_at is not None
    token.used_at -= timedelta(seconds=6)
    invalid_grant(lambda: refresh(auth, first.refresh_token), WRONG_REFRESH)
    assert family.revoked_at is not None and family.revoked_reason == "reuse"


def test_an_unknown_expired_or_revoked_refresh_token_is_refused(auth: AuthServiceImpl) -> None:
    register(auth)
    invalid_grant(lambda: refresh(auth, "unknown"), WRONG_REFRESH)
    expired = login(auth)
    auth.refresh_tokens.find(hash_refresh_token(expired.refresh_token))[1].expires_at = utcnow()  # type: ignore[index]
    invalid_grant(lambda: refresh(auth, expired.refresh_token), WRONG_REFRESH)
    revoked = login(auth)
    family = auth.refresh_tokens.find(hash_refresh_token(revoked.refresh_token))[1]  # type: ignore[index]
    auth.refresh_tokens.revoke_family(family.id, reason="test")
    invalid_grant(lambda: refresh(auth, revoked.refresh_token), WRONG_REFRESH)
    # Neither refusal used the token: it was never claimed.
    assert auth.refresh_tokens.find(hash_refresh_token(revoked.refresh_token))[0].used_at is None  # type: ignore[index]


def test_a_refresh_for_a_disabled_or_deleted_user_is_refused(auth: AuthServiceImpl) -> None:
    register(auth)
    user = next(iter(auth.users.rows.values()))  # type: ignore[attr-defined]
    pair = login(auth)
    user.is_disabled = True
    invalid_grant(lambda: refresh(auth, pair.refresh_token), WRONG_REFRESH)
    user.is_disabled = False
    pair = login(auth)
    del auth.users.rows[user.id]  # type: ignore[attr-defined]
    invalid_grant(lambda: refresh(auth, pair.refresh_token), WRONG_REFRESH)


def test_logout_ends_the_callers_login_and_denylists_the_access_token(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    pair = login(auth)
    caller = principal(auth, pair)
    done = auth.logout(
        s.LogoutRequest(body=RefreshRequest(refresh_token=pair.refresh_token), caller=caller)
    )
    assert done.status_code == 204
    family = auth.refresh_tokens.find(hash_refresh_token(pair.refresh_token))[1]  # type: ignore[index]
    assert family.revoked_reason == "logout"
    assert auth.authenticator.denylist.is_revoked(caller)
    invalid_grant(lambda: refresh(auth, pair.refresh_token), WRONG_REFRESH)
    # The database keeps the logout until the token would expire anyway; the cache hears of
    # the login and of the token.
    expires = datetime.fromtimestamp(caller.expires_at, UTC)
    assert auth.revocations.tokens == {caller.token_id: expires}  # type: ignore[attr-defined]
    cached = auth.authenticator.denylist.cached  # type: ignore[attr-defined]
    assert [key for key, _, _ in cached] == [
        f"{Denylist.PREFIX}sid:{family.id}",
        f"{Denylist.PREFIX}jti:{caller.token_id}",
    ]
    # Until the verifier refuses the token as expired: its exp plus the clock leeway.
    assert cached[1][2] == caller.expires_at + auth.authenticator.tokens.leeway_s


def test_logout_with_someone_elses_refresh_token_leaves_their_login_alone(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    register(auth, "grace@example.com")
    ada, grace = login(auth), login(auth, "grace@example.com")
    caller = principal(auth, ada)
    auth.logout(
        s.LogoutRequest(body=RefreshRequest(refresh_token=grace.refresh_token), caller=caller)
    )
    assert refresh(auth, grace.refresh_token).token_type == "Bearer"
    assert auth.authenticator.denylist.is_revoked(caller)
    assert not auth.authenticator.denylist.is_revoked(principal(auth, grace))


def test_jwks_publishes_the_rings_public_keys(auth: AuthServiceImpl) -> None:
    jwks = auth.get_jwks(s.GetJwksRequest()).body.model_dump(exclude_none=True)
    expected = auth.authenticator.keys.current().public_jwks(int(time.time()))
    assert jwks == expected
    assert all("d" not in key for key in jwks["keys"])
    assert {key["kid"] for key in jwks["keys"]} >= {auth.authenticator.keys.current().active_kid}


def test_an_unknown_user_id_in_a_family_is_refused(auth: AuthServiceImpl) -> None:
    family = auth.refresh_tokens.start_family(
        user_id=uuid.uuid4(), expires_at=utcnow() + timedelta(hours=1)
    )
    auth.refresh_tokens.add_token(family_id=family.id, token_hash=hash_refresh_token("orphan"))
    invalid_grant(lambda: refresh(auth, "orphan"), WRONG_REFRESH)


def test_jwks_keeps_a_retiring_key_until_its_tokens_expire(
    auth: AuthServiceImpl, tmp_path: Path
) -> None:
    before = auth.authenticator.keys.current().active_kid
    KeyRing.rotate(tmp_path / "ring.json", access_token_ttl_s=ACCESS_TTL_S, now=int(time.time()))
    kids = {key["kid"] for key in auth.get_jwks(s.GetJwksRequest()).body.model_dump()["keys"]}
    assert before in kids
    assert auth.authenticator.keys.current().active_kid in kids


def login_count(result: str) -> float:
    return REGISTRY.get_sample_value("auth_login_attempts_total", {"result": result}) or 0.0


def test_logins_are_counted_by_result(auth: AuthServiceImpl) -> None:
    register(auth)
    failures, successes = login_count("failure"), login_count("success")
    login(auth)
    invalid_grant(lambda: login(auth, password="not the passphrase"), WRONG_LOGIN)
    invalid_grant(lambda: login(auth, email="nobody@example.com"), WRONG_LOGIN)
    assert (login_count("failure"), login_count("success")) == (failures + 2, successes + 1)


@pytest.mark.parametrize(
    "named",
    [{}, {"email": "ada@example.com", "username": "grace@example.com"}],
    ids=["neither", "two-accounts"],
)
def test_the_account_is_named_once_by_email_or_username(
    auth: AuthServiceImpl, named: dict[str, str]
) -> None:
    register(auth)
    body = Credentials.model_validate({**named, "password": PASSWORD})
    with pytest.raises(ValidationProblem) as raised:
        auth.create_token(s.CreateTokenRequest(body=body))
    assert [(e.pointer, e.detail) for e in raised.value.errors] == [
        ("#/email", "give the account's e-mail as email or username, once")
    ]
    # The same account in both fields, in any case, is named once.
    both = {"email": "ada@example.com", "username": "ADA@example.com", "password": PASSWORD}
    pair = auth.create_token(s.CreateTokenRequest(body=Credentials.model_validate(both))).body
    assert pair.token_type == "Bearer"


def test_the_edges_of_the_grace_and_of_a_login_s_life_on_a_stopped_clock(
    auth: AuthServiceImpl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exactly ``grace`` seconds after its use a token is still "just used"; a login whose
    expiry is this very instant has ended."""
    auth.refresh_reuse_grace_s = 5
    register(auth)
    first = login(auth)
    refresh(auth, first.refresh_token)
    token, family = auth.refresh_tokens.find(hash_refresh_token(first.refresh_token))  # type: ignore[misc]
    assert token.used_at is not None
    at_the_edge = token.used_at + timedelta(seconds=5)
    monkeypatch.setattr(service_module, "utcnow", lambda: at_the_edge)
    invalid_grant(
        lambda: refresh(auth, first.refresh_token),
        "The refresh token was just used; use the new one.",
    )
    assert family.revoked_at is None
    fresh = login(auth)
    _, ending = auth.refresh_tokens.find(hash_refresh_token(fresh.refresh_token))  # type: ignore[misc]
    ending.expires_at = at_the_edge
    invalid_grant(lambda: refresh(auth, fresh.refresh_token), WRONG_REFRESH)


def test_a_role_this_release_does_not_know_gets_no_scope_rather_than_an_error(
    auth: AuthServiceImpl,
) -> None:
    """During a rolling deploy a newer release's role may reach an older one."""
    register(auth)
    next(iter(auth.users.rows.values())).role = "auditor"  # type: ignore[attr-defined]
    pair = login(auth)
    assert pair.scope == ""
    assert principal(auth, pair).scopes == frozenset()


def test_a_login_in_the_second_that_ended_every_login_gets_a_token_that_is_accepted(
    auth: AuthServiceImpl,
) -> None:
    register(auth)
    (user,) = auth.users.rows.values()  # type: ignore[attr-defined]
    # What a password change does: tokens issued before the next whole second are refused.
    not_before = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    user.tokens_not_before = not_before
    who = principal(auth, login(auth))
    assert who.claims["iat"] == who.claims["nbf"] == int(not_before.timestamp())
    assert who.expires_at == int(not_before.timestamp()) + ACCESS_TTL_S
    assert not auth.authenticator.denylist.is_revoked(who)
    # The control: a token of the second before is still refused.
    earlier = auth.authenticator.tokens.issue_access_token(
        str(user.id), ["projects"], now=int(not_before.timestamp()) - 1
    )
    assert auth.authenticator.denylist.is_revoked(
        auth.authenticator.tokens.verify_access_token(earlier.token)
    )


def test_a_not_before_time_already_past_leaves_the_token_issued_now_and_naive_ones_are_utc(
    auth: AuthServiceImpl, local_zone: None
) -> None:
    register(auth)
    (user,) = auth.users.rows.values()  # type: ignore[attr-defined]
    # WHY naive: SQLite gives the column back without its time zone.
    user.tokens_not_before = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    before = int(time.time())
    who = principal(auth, login(auth))
    assert before <= who.claims["iat"] <= int(time.time())
    ahead = datetime.now(UTC).replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
    user.tokens_not_before = ahead
    assert principal(auth, login(auth)).claims["iat"] == int(ahead.replace(tzinfo=UTC).timestamp())


@pytest.fixture
def local_zone() -> Iterator[None]:
    """The process's local time zone is five hours behind UTC for the test.

    WHY: on a machine in UTC, a naive time read as local time and as UTC agree."""
    former = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if former is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = former
        time.tzset()


@pytest.mark.parametrize("ttl_s", [ACCESS_TTL_S, 3600], ids=["default", "longest"])
def test_a_login_in_the_second_that_ended_every_login_says_the_tokens_own_lifetime(
    auth: AuthServiceImpl, monkeypatch: pytest.MonkeyPatch, ttl_s: int
) -> None:
    auth.authenticator.tokens.access_token_ttl_s = ttl_s
    register(auth)
    (user,) = auth.users.rows.values()  # type: ignore[attr-defined]
    # Half a second into the second of a password change: the token starts at the next one.
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.5)
    user.tokens_not_before = datetime.fromtimestamp(1_800_000_001, UTC)
    pair = login(auth)
    assert principal(auth, pair).expires_at == 1_800_000_001 + ttl_s
    # WHY not ttl + 1: the schema's maximum is the longest lifetime, 3600 (a 500 there), and
    # the token lives its ttl, so the client is never told to keep it a second too long.
    assert pair.expires_in == ttl_s
