"""The access-token denylist (real Redis, a fake database), the revocation hook and the
caller helpers."""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import connexion.context
import pytest
import redis
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.common.auth import ensure_key_ring, is_admin, require_admin, user_id
from app.common.orm import utcnow
from runtime.auth import Authenticator, Denylist, KeyRing, KeyRingSource, Principal, TokenService
from runtime.errors import Forbidden, Unauthenticated
from tests.unit.app.fakes import FakeRefreshTokenRepo, FakeRevocationRepo, FakeUserRepo

TTL_S = 900
# The verifier's clock leeway (TokenService's default, and so the denylist's).
LEEWAY_S = 30


class Store(FakeRevocationRepo):
    """The fake database, counting how often it is asked."""

    def __init__(self) -> None:
        self.users_repo = FakeUserRepo()
        super().__init__(self.users_repo, FakeRefreshTokenRepo())
        self.asked = 0

    def is_revoked(
        self, *, jti: str, family_id: uuid.UUID | None, user_id: uuid.UUID, issued_at: datetime
    ) -> bool:
        self.asked += 1
        return super().is_revoked(
            jti=jti, family_id=family_id, user_id=user_id, issued_at=issued_at
        )


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def client(clean_redis: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(clean_redis)
    yield connection
    connection.close()


def token(
    *, subject: uuid.UUID | None = None, sid: str | None = None, iat: int | None = None
) -> Principal:
    claims: dict[str, object] = {"iat": int(time.time()) if iat is None else iat}
    if sid is not None:
        claims["sid"] = sid
    return Principal(
        subject=str(subject or uuid.uuid4()),
        scopes=frozenset({"projects"}),
        token_id=uuid.uuid4().hex,
        expires_at=int(time.time()) + TTL_S,
        claims=claims,
    )


def test_without_a_cache_every_kind_of_revocation_is_asked_of_the_database(store: Store) -> None:
    denylist = Denylist(None, lambda: store, access_token_ttl_s=TTL_S)
    user = store.users_repo.add(email="ada@example.com", password_hash="x")
    family = store.refresh_tokens.start_family(user_id=user.id, expires_at=utcnow())
    logged_out, of_login, fresh = token(subject=user.id), token(sid=str(family.id)), token()
    store.revoke_token(logged_out.token_id, expires_at=utcnow() + timedelta(seconds=TTL_S))
    store.refresh_tokens.revoke_family(family.id, reason="logout")
    assert denylist.is_revoked(logged_out)
    assert denylist.is_revoked(of_login)
    assert not denylist.is_revoked(fresh)
    old = token(subject=user.id, iat=int(time.time()) - 10)
    user.tokens_not_before = utcnow() - timedelta(seconds=5)
    assert denylist.is_revoked(old)
    assert not denylist.is_revoked(token(subject=user.id))
    assert store.asked == 5
    assert not denylist.reload()


def test_a_cold_cache_asks_the_database_once_then_answers_from_redis(
    store: Store, client: redis.Redis
) -> None:
    denylist = Denylist(client, lambda: store, access_token_ttl_s=TTL_S, refresh_s=60)
    revoked = token()
    store.revoke_token(revoked.token_id, expires_at=utcnow() + timedelta(seconds=60))
    assert denylist.is_revoked(revoked)
    assert store.asked == 1
    assert client.get(Denylist.READY) == b"1"
    assert 0 < client.ttl(Denylist.READY) <= 60
    assert client.exists(Denylist.RELOADING) == 0
    expires = client.ttl(f"{Denylist.PREFIX}jti:{revoked.token_id}")
    assert 60 < expires <= 60 + LEEWAY_S + 1
    # From now on Redis answers alone, even what the database would no longer say.
    store.tokens.clear()
    assert denylist.is_revoked(revoked)
    assert not denylist.is_revoked(token())
    assert store.asked == 1


def test_the_reload_caches_recent_logins_and_not_before_times(
    store: Store, client: redis.Redis
) -> None:
    denylist = Denylist(client, lambda: store, access_token_ttl_s=TTL_S)
    user = store.users_repo.add(email="ada@example.com", password_hash="x")
    family = store.refresh_tokens.start_family(user_id=user.id, expires_at=utcnow())
    store.refresh_tokens.revoke_family(family.id, reason="logout")
    not_before = utcnow().replace(microsecond=0)
    user.tokens_not_before = not_before
    assert denylist.reload()
    assert store.asked == 0
    assert int(client.get(f"{Denylist.PREFIX}nbf:{user.id}") or 0) == int(not_before.timestamp())
    horizon = int(not_before.timestamp()) + TTL_S + LEEWAY_S + 1
    assert client.expiretime(f"{Denylist.PREFIX}nbf:{user.id}") == horizon
    assert denylist.is_revoked(token(sid=str(family.id)))
    earlier = int(not_before.timestamp()) - 1
    assert denylist.is_revoked(token(subject=user.id, iat=earlier))
    assert not denylist.is_revoked(token(subject=user.id, iat=int(not_before.timestamp())))
    assert store.asked == 0


def test_one_worker_reloads_at_a_time(store: Store, client: redis.Redis) -> None:
    denylist = Denylist(client, lambda: store, access_token_ttl_s=TTL_S)
    client.set(Denylist.RELOADING, "1", ex=30)
    assert not denylist.reload()
    assert client.exists(Denylist.READY) == 0
    # Meanwhile every check asks the database.
    assert not denylist.is_revoked(token())
    assert not denylist.is_revoked(token())
    assert store.asked == 2


def test_what_is_remembered_is_refused_from_the_cache_until_its_horizon(
    store: Store, client: redis.Redis
) -> None:
    denylist = Denylist(client, lambda: store, access_token_ttl_s=TTL_S)
    assert denylist.reload()
    logged_out, of_login, user = token(), token(sid=str(uuid.uuid4())), uuid.uuid4()
    denylist.remember_token(logged_out.token_id, until=int(time.time()) + 30)
    now = utcnow()
    denylist.remember_family(of_login.claims["sid"], revoked_at=now)
    denylist.remember_user(str(user), not_before=now.replace(tzinfo=None))
    assert denylist.is_revoked(logged_out) and denylist.is_revoked(of_login)
    assert denylist.is_revoked(token(subject=user, iat=int(now.timestamp()) - 1))
    horizon = int(now.timestamp()) + TTL_S + LEEWAY_S + 1
    assert client.expiretime(f"{Denylist.PREFIX}sid:{of_login.claims['sid']}") == horizon
    assert client.expiretime(f"{Denylist.PREFIX}nbf:{user}") == horizon
    # An expiry already past still leaves the key for a second.
    denylist.remember_token("gone", until=0)
    assert 0 < client.pttl(f"{Denylist.PREFIX}jti:gone") <= 1000
    assert store.asked == 0


def test_a_logout_is_cached_until_the_verifier_refuses_the_token_not_just_its_exp(
    store: Store, client: redis.Redis, tmp_path: Path
) -> None:
    KeyRing.generate(tmp_path / "ring.json")
    keys = KeyRingSource(tmp_path / "ring.json", check_interval_s=0)
    tokens = TokenService(keys, issuer="https://i.test", audience="api", access_token_ttl_s=TTL_S)
    assert Denylist(None, lambda: store, access_token_ttl_s=TTL_S).leeway_s == tokens.leeway_s
    denylist = Denylist(client, lambda: store, access_token_ttl_s=TTL_S, leeway_s=tokens.leeway_s)
    assert denylist.reload()
    # Its exp passed 10 s ago, and the verifier still accepts it (within the leeway).
    issued = tokens.issue_access_token(
        str(uuid.uuid4()), ["projects"], now=int(time.time()) - TTL_S - 10
    )
    caller = tokens.verify_access_token(issued.token)
    denylist.remember_token(caller.token_id, until=caller.expires_at)
    key = f"{Denylist.PREFIX}jti:{caller.token_id}"
    assert client.expiretime(key) == caller.expires_at + tokens.leeway_s
    assert denylist.is_revoked(caller)
    assert store.asked == 0


class RecordingRedis:
    """Records each ``SET`` with its options, so an expiry is read without a running clock."""

    def __init__(self) -> None:
        self.sets: list[tuple[str, str, dict[str, object]]] = []

    def set(self, key: str, value: str, **options: object) -> bool:
        self.sets.append((key, value, options))
        return True


def test_a_past_horizon_keeps_its_key_a_full_second_even_at_a_seconds_very_end(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WHY this instant: a whole-second expiry (the next second) would leave 0.1 ms here.
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.9999)
    client = RecordingRedis()
    denylist = Denylist(cast(redis.Redis, client), lambda: store, access_token_ttl_s=TTL_S)
    denylist.remember_token("gone", until=0)
    denylist.remember_token("live", until=1_800_000_900)
    assert client.sets == [
        (f"{Denylist.PREFIX}jti:gone", "1", {"pxat": 1_800_000_001_999}),
        (f"{Denylist.PREFIX}jti:live", "1", {"pxat": 1_800_000_930_000}),
    ]


def test_with_redis_down_the_database_answers(store: Store) -> None:
    # WHY a closed port: a refused connection is the prompt failure this path handles.
    down = redis.Redis(port=1, retry=Retry(NoBackoff(), 0))
    denylist = Denylist(down, lambda: store, access_token_ttl_s=TTL_S)
    revoked = token()
    store.revoke_token(revoked.token_id, expires_at=utcnow() + timedelta(seconds=60))
    assert denylist.is_revoked(revoked)
    assert not denylist.is_revoked(token())
    assert store.asked == 2
    assert not denylist.reload()
    with pytest.raises(redis.exceptions.ConnectionError):
        denylist.remember_token("t", until=int(time.time()) + 30)


@pytest.fixture
def authenticator(tmp_path: Path, store: Store) -> Authenticator:
    KeyRing.generate(tmp_path / "ring.json")
    keys = KeyRingSource(tmp_path / "ring.json", check_interval_s=0)
    tokens = TokenService(keys, issuer="https://i.test", audience="api", access_token_ttl_s=TTL_S)
    return Authenticator(tokens, Denylist(None, lambda: store, access_token_ttl_s=TTL_S), keys)


def as_caller(principal: Principal | None, call: object) -> object:
    """``call()`` with ``principal`` in Connexion's operation context."""
    assert callable(call)

    def run() -> object:
        connexion.context._context.set({"token_info": {"principal": principal}})
        return call()

    return contextvars.copy_context().run(run)


def revoked_count() -> float:
    return REGISTRY.get_sample_value("auth_failures_total", {"reason": "revoked"}) or 0.0


def test_the_hook_refuses_a_revoked_token_with_a_bearer_challenge(
    authenticator: Authenticator, store: Store
) -> None:
    issued = authenticator.tokens.issue_access_token(str(uuid.uuid4()), ["projects"])
    principal = authenticator.verify(issued.token)
    assert principal.token_id == issued.token_id
    assert as_caller(principal, authenticator.reject_revoked) is None
    before = revoked_count()
    store.revoke_token(principal.token_id, expires_at=utcnow() + timedelta(seconds=60))
    with pytest.raises(Unauthenticated) as raised:
        as_caller(principal, authenticator.reject_revoked)
    assert raised.value.detail == "The access token is invalid or expired."
    assert raised.value.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    assert revoked_count() == before + 1


def test_the_hook_lets_a_public_operation_through(
    authenticator: Authenticator, store: Store
) -> None:
    assert as_caller(None, authenticator.reject_revoked) is None
    assert authenticator.reject_revoked() is None
    assert store.asked == 0


def test_a_key_ring_is_created_once_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ring.json"
    ensure_key_ring(path)
    first = path.read_bytes()
    assert KeyRing.load(path).active_kid
    ensure_key_ring(path)
    assert path.read_bytes() == first


def test_the_caller_helpers_read_the_subject_and_the_admin_scope() -> None:
    subject = uuid.uuid4()
    user = Principal(
        subject=str(subject), scopes=frozenset({"projects"}), token_id="t", expires_at=0
    )
    admin = Principal(
        subject=str(subject), scopes=frozenset({"projects", "admin"}), token_id="t", expires_at=0
    )
    assert user_id(user) == subject
    assert not is_admin(user) and is_admin(admin)
    require_admin(admin)
    with pytest.raises(Forbidden) as raised:
        require_admin(user)
    assert raised.value.detail == "Only administrators may do this."


class RecordingPipelineRedis(RecordingRedis):
    """Also takes the reload's pipeline, recording its ``SET``s alike."""

    def pipeline(self, transaction: bool = True) -> RecordingPipelineRedis:
        return self

    def delete(self, *keys: str) -> int:
        return len(keys)

    def execute(self) -> list[object]:
        return []


def test_the_reload_keeps_a_login_revoked_in_the_second_before_its_tokens_iat(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import runtime.auth.revocation as revocation

    # A password change at ...000.3 made ...001 the not-before second; a login at ...000.5
    # got a token starting there (iat ...001), and its login was revoked at ...000.8 (a second
    # change, a disable, a logout with another of its tokens).
    not_before = 1_800_000_001
    revoked_at = datetime.fromtimestamp(not_before - 0.2, UTC)
    KeyRing.generate(tmp_path / "ring.json")
    keys = KeyRingSource(tmp_path / "ring.json", check_interval_s=0)
    tokens = TokenService(keys, issuer="https://i.test", audience="api", access_token_ttl_s=TTL_S)
    user = store.users_repo.add(email="ada@example.com", password_hash="x")
    family = store.refresh_tokens.start_family(user_id=user.id, expires_at=revoked_at)
    store.refresh_tokens.families[family.id].revoked_at = revoked_at
    issued = tokens.issue_access_token(
        str(user.id), ["projects"], extra={"sid": str(family.id)}, now=not_before
    )
    # The reload runs 0.1 s after the revocation's last token lifetime and leeway: the
    # token's exp is 0.2 s later than the revocation's, so the verifier still accepts it.
    reload_at = revoked_at + timedelta(seconds=TTL_S + LEEWAY_S + 0.1)
    tokens.verify_access_token(issued.token, now=int(reload_at.timestamp()))

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Pinned:  # type: ignore[override]
            return cast(Pinned, reload_at)

    monkeypatch.setattr(revocation, "datetime", Pinned)
    client = RecordingPipelineRedis()
    denylist = Denylist(cast(redis.Redis, client), lambda: store, access_token_ttl_s=TTL_S)
    assert denylist.reload()
    cached = {key: options for key, _value, options in client.sets}
    login = cached[f"{Denylist.PREFIX}sid:{family.id}"]
    assert cast(int, login["exat"]) > reload_at.timestamp()
