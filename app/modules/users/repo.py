"""Every query of the users domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.modules.users.models import User


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

    def list_page(
        self, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
    ) -> Sequence[User]:
        """Oldest first; ``after`` is the (created_at, id) of the last item already seen."""
        query = select(User).order_by(User.created_at, User.id)
        if after is not None:
            query = query.where(tuple_(User.created_at, User.id) > tuple_(*after))
        return self.session.scalars(query.limit(limit)).all()

    def flush(self) -> None:
        self.session.flush()
