"""In-memory repositories with the real ones' interface, for service tests without I/O."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import redis

from app.common.orm import utcnow
from app.modules.auth.models import RefreshFamily, RefreshToken
from app.modules.projects.models import Project
from app.modules.tasks.models import Task
from app.modules.users.models import User
from app.modules.users.repo import EmailTaken
from runtime.auth import Denylist, Revocations
from runtime.testing import FakeClock


def Clock() -> FakeClock:
    """The runtime's fake clock, started at the real time: rows get distinct, current times."""
    return FakeClock(utcnow().timestamp())


class FakeProjectRepo:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.rows: dict[uuid.UUID, Project] = {}
        self.clock = clock or Clock()

    def add(self, *, name: str, description: str | None, owner_id: uuid.UUID) -> Project:
        at = self.clock.tick()
        project = Project(
            id=uuid.uuid4(),
            name=name,
            description=description,
            owner_id=owner_id,
            created_at=at,
            updated_at=at,
            version=1,
        )
        self.rows[project.id] = project
        return project

    def get(self, project_id: uuid.UUID, *, lock: bool = False) -> Project | None:
        return self.rows.get(project_id)

    def list_page(
        self,
        *,
        limit: int,
        owner_id: uuid.UUID | None,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> Sequence[Project]:
        rows = sorted(
            (p for p in self.rows.values() if owner_id in (None, p.owner_id)),
            key=lambda p: (p.created_at, p.id),
            reverse=True,
        )
        if after is not None:
            rows = [p for p in rows if (p.created_at, p.id) < after]
        return rows[:limit]

    def delete(self, project: Project) -> None:
        del self.rows[project.id]

    def flush(self) -> None:
        pass


class FakeTaskRepo:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.rows: dict[uuid.UUID, Task] = {}
        self.clock = clock or Clock()

    def add(self, *, project_id: uuid.UUID, title: str) -> Task:
        at = self.clock.tick()
        task = Task(
            id=uuid.uuid4(),
            project_id=project_id,
            title=title,
            status="todo",
            created_at=at,
            updated_at=at,
            version=1,
        )
        self.rows[task.id] = task
        return task

    def get(self, project_id: uuid.UUID, task_id: uuid.UUID, *, lock: bool = False) -> Task | None:
        task = self.rows.get(task_id)
        return task if task is not None and task.project_id == project_id else None

    def list_page(
        self,
        *,
        project_id: uuid.UUID,
        limit: int,
        status: str | None = None,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> Sequence[Task]:
        rows = sorted(
            (
                t
                for t in self.rows.values()
                if t.project_id == project_id and status in (None, t.status)
            ),
            key=lambda t: (t.created_at, t.id),
        )
        if after is not None:
            rows = [t for t in rows if (t.created_at, t.id) > after]
        return rows[:limit]

    def delete(self, task: Task) -> None:
        del self.rows[task.id]

    def flush(self) -> None:
        pass


class FakeUserRepo:
    def __init__(self, clock: FakeClock | None = None) -> None:
        self.rows: dict[uuid.UUID, User] = {}
        self.clock = clock or Clock()
        # A test sets this to play the race the e-mail pre-check cannot close.
        self.taken_on_insert = False
        # The e-mails and ids read with a row lock (PostgreSQL holds it until the commit).
        self.locked: list[str] = []

    def add(self, *, email: str, password_hash: str, role: str = "user") -> User:
        if self.taken_on_insert or self.by_email(email) is not None:
            raise EmailTaken(email)
        at = self.clock.tick()
        user = User(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            role=role,
            is_disabled=False,
            password_changed_at=at,
            created_at=at,
            updated_at=at,
        )
        self.rows[user.id] = user
        return user

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.rows.get(user_id)

    def get_locked(self, user_id: uuid.UUID) -> User | None:
        self.locked.append(str(user_id))
        return self.get(user_id)

    def by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email == email), None)

    def by_email_locked(self, email: str) -> User | None:
        self.locked.append(email)
        return self.by_email(email)

    def list_page(
        self, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
    ) -> Sequence[User]:
        rows = sorted(self.rows.values(), key=lambda u: (u.created_at, u.id))
        if after is not None:
            rows = [u for u in rows if (u.created_at, u.id) > after]
        return rows[:limit]

    def flush(self) -> None:
        pass


class FakeRefreshTokenRepo:
    """Families and tokens in dictionaries; ``claim`` is the same once-only rule as the SQL."""

    def __init__(self) -> None:
        self.families: dict[uuid.UUID, RefreshFamily] = {}
        self.tokens: dict[uuid.UUID, RefreshToken] = {}

    def start_family(self, *, user_id: uuid.UUID, expires_at: datetime) -> RefreshFamily:
        family = RefreshFamily(id=uuid.uuid4(), user_id=user_id, expires_at=expires_at)
        family.revoked_at = None
        self.families[family.id] = family
        return family

    def add_token(self, *, family_id: uuid.UUID, token_hash: str) -> RefreshToken:
        token = RefreshToken(id=uuid.uuid4(), family_id=family_id, token_hash=token_hash)
        token.used_at = None
        self.tokens[token.id] = token
        return token

    def find(self, token_hash: str) -> tuple[RefreshToken, RefreshFamily] | None:
        for token in self.tokens.values():
            if token.token_hash == token_hash:
                return token, self.families[token.family_id]
        return None

    def claim(self, token_id: uuid.UUID) -> bool:
        token = self.tokens[token_id]
        if token.used_at is not None:
            return False
        token.used_at = utcnow()
        return True

    def is_revoked(self, family_id: uuid.UUID) -> bool:
        return self.families[family_id].revoked_at is not None

    def used_at(self, token_id: uuid.UUID) -> datetime | None:
        return self.tokens[token_id].used_at

    def revoke_family_now(self, family_id: uuid.UUID, *, reason: str) -> None:
        self.revoke_family(family_id, reason=reason)

    def revoke_family(self, family_id: uuid.UUID, *, reason: str) -> None:
        family = self.families[family_id]
        if family.revoked_at is None:
            family.revoked_at, family.revoked_reason = utcnow(), reason

    def revoke_all_of_user(self, user_id: uuid.UUID, *, reason: str) -> None:
        for family in list(self.families.values()):
            if family.user_id == user_id:
                self.revoke_family(family.id, reason=reason)


class FakeRevocationRepo:
    """Logged-out tokens in a dictionary; logins and not-before times read from the other fakes."""

    def __init__(self, users: FakeUserRepo, refresh_tokens: FakeRefreshTokenRepo) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.tokens: dict[str, datetime] = {}

    def revoke_token(self, jti: str, *, expires_at: datetime) -> None:
        self.tokens[jti] = expires_at

    def is_revoked(
        self, *, jti: str, family_id: uuid.UUID | None, user_id: uuid.UUID, issued_at: datetime
    ) -> bool:
        family = self.refresh_tokens.families.get(family_id) if family_id else None
        user = self.users.rows.get(user_id)
        not_before = getattr(user, "tokens_not_before", None)
        return (
            jti in self.tokens
            or (family is not None and family.revoked_at is not None)
            or (not_before is not None and not_before > issued_at)
        )

    def recent(self, *, now: datetime, access_token_ttl_s: int) -> Revocations:
        since = now - timedelta(seconds=access_token_ttl_s)
        return Revocations(
            tokens=[(jti, at) for jti, at in self.tokens.items() if at > now],
            families=[
                (str(f.id), f.revoked_at)
                for f in self.refresh_tokens.families.values()
                if f.revoked_at is not None and f.revoked_at > since
            ],
            users=[
                (str(u.id), u.tokens_not_before)
                for u in self.users.rows.values()
                if getattr(u, "tokens_not_before", None) is not None and u.tokens_not_before > since
            ],
        )


class RecordingDenylist(Denylist):
    """The real denylist over a fake database, without a cache: it records each entry it
    would cache, and with ``failing`` set refuses them as a Redis outage would."""

    def __init__(self, store: FakeRevocationRepo, *, access_token_ttl_s: int = 900) -> None:
        super().__init__(None, lambda: store, access_token_ttl_s=access_token_ttl_s)
        self.cached: list[tuple[str, str, int]] = []
        self.failing = False

    def _cache(self, key: str, value: str, until: int) -> None:
        if self.failing:
            raise redis.exceptions.ConnectionError("the cache is down")
        self.cached.append((key, value, until))
