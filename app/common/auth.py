"""Who may call what: the token service, the access-token denylist, and caller helpers."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import redis

from runtime.auth import (
    KeyRing,
    KeyRingError,
    KeyRingSource,
    Principal,
    TokenService,
)
from runtime.auth.security import current_principal
from runtime.errors import Forbidden, Unauthenticated
from runtime.metrics import AUTH_FAILURES

SCOPES_BY_ROLE = {"user": ("projects",), "admin": ("projects", "admin")}


class Denylist:
    """Access-token ids revoked before they expire (logout); Redis, or memory without it.

    WHY: memory is per process, so without Redis a logout is only seen by the worker that
    served it; development accepts that, production refuses to start without Redis."""

    PREFIX = "denylist:jti:"

    def __init__(self, client: redis.Redis | None) -> None:
        self.client = client
        self._memory: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, token_id: str, *, until: int) -> None:
        ttl = max(1, until - int(time.time()))
        if self.client is not None:
            self.client.set(self.PREFIX + token_id, "1", ex=ttl)
            return
        with self._lock:
            self._memory[token_id] = time.time() + ttl

    def is_revoked(self, token_id: str) -> bool:
        if self.client is not None:
            return bool(self.client.exists(self.PREFIX + token_id))
        with self._lock:
            expiry = self._memory.get(token_id)
            return expiry is not None and expiry > time.time()


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

        WHY: here rather than in :meth:`verify`, because the denylist is a Redis round trip
        and this runs on the request's own thread, not on the event loop."""
        principal = current_principal()
        if principal is not None and self.denylist.is_revoked(principal.token_id):
            AUTH_FAILURES.labels(reason="revoked").inc()
            raise Unauthenticated(
                "The access token is invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )


def ensure_key_ring(path: Path) -> None:
    """Create a development key ring on first start; production mounts its own.

    Gunicorn's master calls this before forking, so every worker signs with the same key."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        KeyRing.generate(path)
    except KeyRingError:
        if not path.exists():
            raise


def user_id(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.subject)


def is_admin(principal: Principal) -> bool:
    return "admin" in principal.scopes


def require_admin(principal: Principal) -> None:
    if not is_admin(principal):
        raise Forbidden("Only administrators may do this.")
