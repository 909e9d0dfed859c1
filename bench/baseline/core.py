"""The work of the three benchmarked operations, shared by the baseline and the stock app.

It reuses the reference app's models, repository, generated Pydantic models and token checks,
so the only difference between the apps is what surrounds this code: Connexion and the runtime,
or a few lines of Flask."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.common.auth import is_admin, user_id
from app.common.errors import ProjectNotFound
from app.common.utils import API_PREFIX
from app.config import Settings
from app.modules.auth.repo import RevocationRepo
from app.modules.components import Project, ProjectCreate, ProjectPage
from app.modules.projects import models
from app.modules.projects.repo import ProjectRepo
from app.modules.projects.schemas import ListProjectsQuery
from app.modules.users import models as _user_models  # noqa: F401 - projects.owner_id -> users
from runtime import (
    Authenticator,
    Denylist,
    Forbidden,
    InvalidToken,
    KeyRingSource,
    Principal,
    Revocations,
    TokenService,
    Unauthenticated,
    as_utc,
    cursor_position,
    make_engine,
    make_redis,
    page,
)

REQUIRED_SCOPE = "projects"


@dataclass(frozen=True)
class Services:
    """One per worker process, built after the fork (gunicorn loads the app in each worker)."""

    sessions: sessionmaker[Session]
    authenticator: Authenticator

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        # WHY: the same engine settings (pool, statement timeout) and the same Redis client
        # settings as the reference app's init_extensions, but as a hand-written app sets
        # SQLAlchemy up: pre-ping (a SELECT 1 per checkout) and every token verified in full
        # (no verified-token cache). Those two are what the runtime does better (PERFORMANCE.md).
        engine = make_engine(
            settings.sqlalchemy_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout_s=settings.db_pool_timeout_s,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            connect_timeout_s=settings.db_connect_timeout_s,
            pre_ping=True,
        )
        if not settings.redis_url or settings.jwt_keys_file is None:
            raise SystemExit("The benchmark apps need REDIS_URL and JWT_KEYS_FILE.")
        client = make_redis(
            settings.redis_url,
            socket_timeout_s=settings.redis_socket_timeout_s,
            connect_timeout_s=settings.redis_connect_timeout_s,
            retries=settings.redis_retries,
        )
        keys = KeyRingSource(settings.jwt_keys_file)
        tokens = TokenService(
            keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_token_ttl_s=settings.access_token_ttl_s,
            cache_size=0,
        )
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        denylist = Denylist(
            client,
            lambda: _OwnSessionStore(sessions),
            access_token_ttl_s=settings.access_token_ttl_s,
            refresh_s=settings.revocation_cache_refresh_s,
        )
        return cls(sessions=sessions, authenticator=Authenticator(tokens, denylist, keys))

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller of a ``Bearer`` token with the ``projects`` scope, or a 401/403 problem."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("This operation needs an access token.")
        principal = self.verify(token.strip())
        if REQUIRED_SCOPE not in principal.scopes:
            raise Forbidden("The access token lacks a scope this operation needs.")
        return principal

    def verify(self, token: str) -> Principal:
        """Signature, claims and the Redis denylist: exactly the reference app's checks."""
        try:
            principal = self.authenticator.verify(token)
        except InvalidToken:
            raise Unauthenticated("The access token is invalid or expired.") from None
        # WHY: the reference app checks the denylist in a before_request hook, apart from
        # verify(); the baseline must pay the same Redis round trip.
        if self.authenticator.denylist.is_revoked(principal):
            raise Unauthenticated("The access token is invalid or expired.")
        return principal

    # -- the three operations; each is one transaction --------------------------------------

    def get_project(self, project_id: uuid.UUID, caller: Principal) -> bytes:
        with self.sessions.begin() as session:
            row = ProjectRepo(session).get(project_id)
            if row is None or not (row.owner_id == user_id(caller) or is_admin(caller)):
                raise ProjectNotFound(f"There is no project {project_id}.")
            return to_project(row).model_dump_json().encode()

    def list_projects(
        self, query: ListProjectsQuery, caller: Principal
    ) -> tuple[bytes, str | None]:
        owner = None if is_admin(caller) else user_id(caller)
        with self.sessions.begin() as session:
            rows = ProjectRepo(session).list_page(
                limit=query.limit + 1, owner_id=owner, after=cursor_position(query.cursor)
            )
            found = page(rows, limit=query.limit, path=f"{API_PREFIX}/projects", params={})
            body = ProjectPage(items=[to_project(row) for row in found.items], next=found.next)
        return body.model_dump_json().encode(), found.link

    def create_project(self, body: ProjectCreate, caller: Principal) -> tuple[bytes, str]:
        with self.sessions.begin() as session:
            row = ProjectRepo(session).add(
                name=body.name, description=body.description, owner_id=user_id(caller)
            )
            project = to_project(row)
        return project.model_dump_json().encode(), f"{API_PREFIX}/projects/{project.id}"


class _OwnSessionStore:
    """The denylist's database side, each call in a short session of its own.

    WHY: only a cold or unreachable Redis cache gets here; the baseline has no request-scoped
    session to lend it."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def is_revoked(
        self, *, jti: str, family_id: uuid.UUID | None, user_id: uuid.UUID, issued_at: datetime
    ) -> bool:
        with self.sessions() as session:
            return RevocationRepo(session).is_revoked(
                jti=jti, family_id=family_id, user_id=user_id, issued_at=issued_at
            )

    def recent(self, *, now: datetime, access_token_ttl_s: int) -> Revocations:
        with self.sessions() as session:
            return RevocationRepo(session).recent(now=now, access_token_ttl_s=access_token_ttl_s)


def to_project(row: models.Project) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )
