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

    def by_email(self, email: str) -> User | None:
        return self.session.scalar(select(User).where(User.email == email))

    def list_page(self, *, limit: int, after: Position | None = None) -> Sequence[User]:
        """Oldest first; ``after`` is the (created_at, id) of the last item already seen."""
        query = keyset(select(User), User.created_at, User.id, limit=limit, after=after)
        return self.session.scalars(query).all()

    def flush(self) -> None:
        self.session.flush()
