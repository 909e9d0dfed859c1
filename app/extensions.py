"""Process-wide clients, created unbound and bound to settings in ``create_app``."""

from __future__ import annotations

from collections.abc import Callable

import redis

from app.common.auth import Authenticator, Denylist, ensure_key_ring
from app.config import DEFAULT_KEY_RING_PATH, Settings
from app.modules.auth.repo import RevocationRepo
from runtime.auth import KeyRingSource, TokenService
from runtime.db import Database, make_engine
from runtime.idempotency import Idempotency
from runtime.passwords import Passwords
from runtime.redis_client import make_redis

db = Database()
idempotency = Idempotency()


class RedisHolder:
    """The Redis client when ``REDIS_URL`` is configured; ``None`` lets the app run without it."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None


redis_holder = RedisHolder()


class Security:
    """The authenticator and password hasher, bound in ``init_extensions``."""

    def __init__(self) -> None:
        self._authenticator: Authenticator | None = None
        self.passwords = Passwords()
        self.refresh_token_ttl_s = 0
        self.refresh_reuse_grace_s = 0

    @property
    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            raise RuntimeError("Security is not configured; call init_extensions(settings).")
        return self._authenticator


security = Security()


def init_extensions(settings: Settings) -> None:
    db.configure(
        make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_s=settings.db_pool_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
    )
    redis_holder.client = (
        make_redis(
            settings.redis_url,
            socket_timeout_s=settings.redis_socket_timeout_s,
            connect_timeout_s=settings.redis_connect_timeout_s,
            retries=settings.redis_retries,
        )
        if settings.redis_url
        else None
    )
    keys_path = settings.jwt_keys_file or DEFAULT_KEY_RING_PATH
    if settings.jwt_keys_file is None:
        ensure_key_ring(keys_path)
    keys = KeyRingSource(keys_path)
    tokens = TokenService(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_token_ttl_s=settings.access_token_ttl_s,
    )
    denylist = Denylist(
        redis_holder.client,
        lambda: RevocationRepo(db.session),
        access_token_ttl_s=settings.access_token_ttl_s,
        refresh_s=settings.revocation_cache_refresh_s,
    )
    security._authenticator = Authenticator(tokens, denylist, keys)
    security.refresh_token_ttl_s = settings.refresh_token_ttl_s
    security.refresh_reuse_grace_s = settings.refresh_reuse_grace_s


def readiness_checks() -> dict[str, Callable[[], object] | None]:
    """What ``/readyz`` checks: PostgreSQL, and Redis when it is configured."""
    client = redis_holder.client
    return {"database": db.ping, "redis": client.ping if client else None}
