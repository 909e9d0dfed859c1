"""Every query of the users domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.modules.users.models import User
from runtime import Position, keyset


class EmailTaken(Exception):
    pass


class UserRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, email: str, password_hash: str, role: str = "user") -> User:
        user = User(email=email, password_hash=password_hash, role=role)
        # WHY: a savepoint, so a duplicate e-mail (a race the pre-check cannot close) rolls
        # back only this INSERT and becomes a 409, not a failed transaction.
        try:
            with self.session.begin_nested():
                self.session.add(user)
        except IntegrityError:
            raise EmailTaken(email) from None
        return user

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.session.get(User, user_id)

    def get_locked(self, user_id: uuid.UUID) -> User | None:
        """The user, row-locked until the transaction ends, as last committed (see
        :meth:`by_email_locked`)."""
        return self.session.get(User, user_id, with_for_update=True, populate_existing=True)

    def by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email))

    def by_email_locked(self, email: str) -> User | None:
        """The user, row-locked (``FOR UPDATE``) until the transaction ends, as last committed.

        WHY: a login and a change that ends every login (password, disable) both read the
        user this way, so one runs after the other has committed (docs/SECURITY.md).

        WHY ``FOR UPDATE``, not ``FOR SHARE``: the locker may write the row itself (a login
        upgrades the password hash), and two share-lockers upgrading would deadlock.
        WHY ``populate_existing``: a row already in the session would otherwise keep the
        values read before the lock; the lock is worth only what was read under it.
        WHY nothing more on SQLite: it has no row locks and ignores ``FOR UPDATE``; it
        serialises writers, but pysqlite begins the transaction at the first write, so this
        read is not in it and a write committed between the two is not seen. The embedded
        default is for development (production refuses SQLite)."""
        return self.session.scalar(
            select(User)
            .where(User.email == email)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    def list_page(self, *, limit: int, after: Position | None = None) -> Sequence[User]:
        """Oldest first; ``after`` is the (created_at, id) of the last item already seen."""
        query = keyset(select(User), User.created_at, User.id, limit=limit, after=after)
        return self.session.scalars(query).all()

    def flush(self) -> None:
        self.session.flush()
