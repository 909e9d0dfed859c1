"""The composition root: the app's clients and every service, built in one place.

Nothing here is a module global. ``create_app`` builds one :class:`Extensions` per app and
keeps it in ``app.extensions``, with a factory per service, so two apps in one process share
no engine, client, key ring, hasher or service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask
import redis

from app.common.auth import ensure_key_ring
from app.config import DEFAULT_KEY_RING_PATH, Settings
from app.modules.auth.repo import RefreshTokenRepo, RevocationRepo
from app.modules.auth.service import AuthServiceImpl
from app.modules.ops.service import OpsServiceImpl
from app.modules.projects.repo import ProjectRepo
from app.modules.projects.service import ProjectsServiceImpl
from app.modules.tasks.repo import TaskRepo
from app.modules.tasks.service import TasksServiceImpl
from app.modules.users.repo import UserRepo
from app.modules.users.service import UsersServiceImpl
from runtime import (
    Authenticator,
    Database,
    Denylist,
    Idempotency,
    KeyRingSource,
    Passwords,
    TokenService,
    make_engine,
    make_redis,
)

_KEY = "app"


@dataclass(frozen=True)
class Extensions:
    """The clients of one app, bound to its settings."""

    settings: Settings
    db: Database
    redis: redis.Redis | None
    authenticator: Authenticator
    passwords: Passwords
    idempotency: Idempotency

    def readiness_checks(self) -> dict[str, Callable[[], object] | None]:
        """What ``/readyz`` checks: PostgreSQL, and Redis when it is configured."""
        return {"database": self.db.ping, "redis": self.redis.ping if self.redis else None}

    def close(self) -> None:
        """Close the pooled connections (tests, and scripts that build an app)."""
        self.db.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build_extensions(settings: Settings) -> Extensions:
    """Every client the app needs, unconnected until first used."""
    db = Database()
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
    client = (
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
        client,
        lambda: RevocationRepo(db.session),
        access_token_ttl_s=settings.access_token_ttl_s,
        refresh_s=settings.revocation_cache_refresh_s,
        leeway_s=tokens.leeway_s,
    )
    return Extensions(
        settings=settings,
        db=db,
        redis=client,
        authenticator=Authenticator(tokens, denylist, keys),
        passwords=Passwords(),
        idempotency=Idempotency(),
    )


def service_factories(ext: Extensions) -> dict[type[Any], Callable[[], object]]:
    """How each domain's service is built for a request, on that request's session."""
    db, settings = ext.db, ext.settings

    def auth() -> AuthServiceImpl:
        session = db.session
        return AuthServiceImpl(
            users=UserRepo(session),
            refresh_tokens=RefreshTokenRepo(session, db.new_session),
            revocations=RevocationRepo(session),
            passwords=ext.passwords,
            authenticator=ext.authenticator,
            refresh_token_ttl_s=settings.refresh_token_ttl_s,
            refresh_reuse_grace_s=settings.refresh_reuse_grace_s,
        )

    def users() -> UsersServiceImpl:
        session = db.session
        return UsersServiceImpl(
            users=UserRepo(session),
            refresh_tokens=RefreshTokenRepo(session, db.new_session),
            passwords=ext.passwords,
            denylist=ext.authenticator.denylist,
        )

    def tasks() -> TasksServiceImpl:
        session = db.session
        return TasksServiceImpl(TaskRepo(session), ProjectRepo(session))

    return {
        AuthServiceImpl: auth,
        OpsServiceImpl: lambda: OpsServiceImpl(ext.readiness_checks()),
        ProjectsServiceImpl: lambda: ProjectsServiceImpl(ProjectRepo(db.session)),
        TasksServiceImpl: tasks,
        UsersServiceImpl: users,
    }


def install(app: flask.Flask, ext: Extensions) -> None:
    app.extensions[_KEY] = ext


def extensions(app: flask.Flask | None = None) -> Extensions:
    """The extensions of ``app`` (a Flask app, or a Connexion app's ``.app``), else of the
    current app."""
    found: Extensions = (app or flask.current_app).extensions[_KEY]
    return found
