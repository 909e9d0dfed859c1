"""Access-token revocation: the denylist every authenticated request consults, and the
authenticator that issues tokens and refuses revoked ones."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import redis

from runtime.auth.keys import KeyRingSource
from runtime.auth.security import current_principal
from runtime.auth.tokens import LEEWAY_S, Principal, TokenService
from runtime.errors import Unauthenticated
from runtime.logging import get_logger
from runtime.metrics import AUTH_FAILURES

log = get_logger("runtime.auth")


@dataclass(frozen=True)
class Revocations:
    """What the database holds that can still refuse a token, for the cache warm-up."""

    tokens: list[tuple[str, datetime]]  # jti, expires_at
    families: list[tuple[str, datetime]]  # login (refresh family) id, revoked_at
    users: list[tuple[str, datetime]]  # user id, tokens_not_before


class RevocationStore(Protocol):
    def is_revoked(
        self, *, jti: str, family_id: uuid.UUID | None, user_id: uuid.UUID, issued_at: datetime
    ) -> bool: ...

    def recent(self, *, now: datetime, access_token_ttl_s: int) -> Revocations: ...


class Denylist:
    """Whether an access token was revoked: PostgreSQL holds every revocation, Redis caches
    them so that the check on each request is one ``MGET``.

    A token is revoked when its ``jti`` was logged out, its login (the ``sid`` claim, the
    refresh family) was revoked, or it was issued before its user's not-before time. Redis is
    never the only copy: the ``ready`` marker exists only after the cache was loaded from the
    database, so after a flush or a restart the check asks PostgreSQL and reloads the cache,
    and with Redis down it asks PostgreSQL. The marker expires every ``refresh_s``, which
    bounds how long a cache write lost to a Redis blip can go unnoticed.

    ``leeway_s`` is the verifier's clock leeway (:attr:`TokenService.leeway_s`). WHY: a token
    is accepted until its ``exp`` plus the leeway, so an entry that ended at ``exp`` let a
    logged-out token through again for the leeway's length, from a warm cache."""

    PREFIX = "revocation:"
    READY = PREFIX + "ready"
    RELOADING = PREFIX + "reloading"

    def __init__(
        self,
        client: redis.Redis | None,
        store: Callable[[], RevocationStore],
        *,
        access_token_ttl_s: int,
        refresh_s: int = 300,
        leeway_s: int = LEEWAY_S,
    ) -> None:
        self.client = client
        self.store = store
        self.access_token_ttl_s = access_token_ttl_s
        self.refresh_s = refresh_s
        self.leeway_s = leeway_s

    def is_revoked(self, principal: Principal) -> bool:
        family = principal.claims.get("sid")
        keys = [self.READY, self._token(principal.token_id), self._user(principal.subject)]
        if isinstance(family, str):
            keys.append(self._family(family))
        if self.client is not None:
            try:
                ready, token, not_before, *login = self.client.mget(keys)
            except redis.exceptions.RedisError as exc:
                log.warning("revocation_cache_unavailable", error=type(exc).__name__)
                return self._ask_database(principal)
            if ready is not None:
                issued_at = int(principal.claims.get("iat", 0))
                return (
                    token is not None
                    or any(value is not None for value in login)
                    or (not_before is not None and issued_at < int(not_before))
                )
            revoked = self._ask_database(principal)
            self.reload()
            return revoked
        return self._ask_database(principal)

    def remember_token(self, token_id: str, *, until: int) -> None:
        """Cache a logout until the token ``until`` (its ``exp``) is refused as expired; the
        caller has written it to the database in this transaction."""
        self._cache(self._token(token_id), "1", until + self.leeway_s)

    def remember_family(self, family_id: str, *, revoked_at: datetime) -> None:
        self._cache(self._family(family_id), "1", self._horizon(revoked_at))

    def remember_user(self, user_id: str, *, not_before: datetime) -> None:
        self._cache(self._user(user_id), str(_epoch(not_before)), self._horizon(not_before))

    def reload(self) -> bool:
        """Load every revocation that can still refuse a token, then set the ready marker.

        One worker at a time (a short ``SET NX``); the others ask the database meanwhile."""
        if self.client is None:
            return False
        try:
            if not self.client.set(self.RELOADING, "1", nx=True, ex=30):
                return False
            # WHY the leeway earlier: a token expired less than the leeway ago is still
            # accepted, so its logout and its login's revocation still matter. WHY a second
            # more: a token's `iat` may be up to a second after its login's revocation (a
            # login in the second of a password change starts at the not-before second), so
            # its exp is up to a second after revoked_at + the token lifetime; `_horizon`
            # keeps that second, and a reload must not drop what a write would keep.
            now = datetime.now(UTC) - timedelta(seconds=self.leeway_s + 1)
            recent = self.store().recent(now=now, access_token_ttl_s=self.access_token_ttl_s)
            pipe = self.client.pipeline(transaction=False)
            for token_id, expires_at in recent.tokens:
                pipe.set(self._token(token_id), "1", exat=_epoch(expires_at) + self.leeway_s + 1)
            for family_id, revoked_at in recent.families:
                pipe.set(self._family(family_id), "1", exat=self._horizon(revoked_at))
            for user_id, not_before in recent.users:
                value = str(_epoch(not_before))
                pipe.set(self._user(user_id), value, exat=self._horizon(not_before))
            pipe.set(self.READY, "1", ex=self.refresh_s)
            pipe.delete(self.RELOADING)
            pipe.execute()
        except redis.exceptions.RedisError as exc:
            log.warning("revocation_cache_reload_failed", error=type(exc).__name__)
            return False
        log.info("revocation_cache_loaded", entries=len(recent.tokens) + len(recent.families))
        return True

    def _ask_database(self, principal: Principal) -> bool:
        family = principal.claims.get("sid")
        return self.store().is_revoked(
            jti=principal.token_id,
            family_id=uuid.UUID(family) if isinstance(family, str) else None,
            user_id=uuid.UUID(principal.subject),
            issued_at=datetime.fromtimestamp(int(principal.claims.get("iat", 0)), UTC),
        )

    def _cache(self, key: str, value: str, until: int) -> None:
        if self.client is None:
            return
        try:
            # WHY milliseconds: ``int(time.time()) + 1`` as a whole-second expiry left a past
            # horizon's key anywhere from a second down to nothing (at a second's very end it
            # was gone before the next command); a full second from now is what is meant.
            expires_ms = max(until * 1000, int(time.time() * 1000) + 1000)
            self.client.set(key, value, pxat=expires_ms)
        except redis.exceptions.RedisError:
            # WHY: the database has the revocation; without the marker every check asks it
            # until the next reload. Then the request fails (503), so nothing is acknowledged
            # that the cache might contradict.
            with contextlib.suppress(redis.exceptions.RedisError):
                self.client.delete(self.READY)
            raise

    def _horizon(self, moment: datetime) -> int:
        """When every token issued up to ``moment`` is refused as expired; the second more
        also covers an ``iat`` of the next whole second (see :meth:`reload`)."""
        return _epoch(moment) + self.access_token_ttl_s + self.leeway_s + 1

    def _token(self, token_id: str) -> str:
        return f"{self.PREFIX}jti:{token_id}"

    def _family(self, family_id: str) -> str:
        return f"{self.PREFIX}sid:{family_id}"

    def _user(self, user_id: str) -> str:
        return f"{self.PREFIX}nbf:{user_id}"


def _epoch(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


class Authenticator:
    """Issues tokens for logins and checks them on every authenticated request."""

    def __init__(self, tokens: TokenService, denylist: Denylist, keys: KeyRingSource) -> None:
        self.tokens = tokens
        self.denylist = denylist
        self.keys = keys

    def verify(self, token: str) -> Principal:
        """Signature and claims only: CPU work that runs without a thread hand-off."""
        return self.tokens.verify_access_token(token)

    def reject_revoked(self) -> None:
        """A Flask ``before_request`` hook: a logged-out token is refused.

        WHY: here rather than in :meth:`verify`, because the check is a Redis round trip (or
        a query) and this runs on the request's own thread, not on the event loop."""
        principal = current_principal()
        if principal is not None and self.denylist.is_revoked(principal):
            AUTH_FAILURES.labels(reason="revoked").inc()
            raise Unauthenticated(
                "The access token is invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
