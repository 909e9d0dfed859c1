"""Process-wide clients, created unbound and bound to settings in ``create_app``."""

from __future__ import annotations

import redis

from app.config import Settings
from runtime.db import Database, make_engine
from runtime.redis_client import make_redis

db = Database()


class RedisHolder:
    """The Redis client when ``REDIS_URL`` is configured; ``None`` lets the app run without it."""

    def __init__(self) -> None:
        self.client: redis.Redis[str] | None = None


redis_holder = RedisHolder()


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
