"""Every query of the auth domain: refresh-token families and their tokens."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from app.common.orm import utcnow
from app.modules.auth.models import RefreshFamily, RefreshToken, RevokedAccessToken
from app.modules.users.models import User
from runtime import Revocations


class RefreshTokenRepo:
    """``autonomous`` opens a session of its own, for writes that must outlive a failed request."""

    def __init__(self, session: Session, autonomous: Callable[[], Session]) -> None:
        self.session = session
        self.autonomous = autonomous

    def start_family(self, *, user_id: uuid.UUID, expires_at: datetime) -> RefreshFamily:
        family = RefreshFamily(user_id=user_id, expires_at=expires_at)
        self.session.add(family)
        self.session.flush()
        return family

    def add_token(self, *, family_id: uuid.UUID, token_hash: str) -> RefreshToken:
        token = RefreshToken(family_id=family_id, token_hash=token_hash)
        self.session.add(token)
        self.session.flush()
        return token

    def find(self, token_hash: str) -> tuple[RefreshToken, RefreshFamily] | None:
        row = self.session.execute(
            select(RefreshToken, RefreshFamily)
            .join(RefreshFamily, RefreshFamily.id == RefreshToken.family_id)
            .where(RefreshToken.token_hash == token_hash)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def claim(self, token_id: uuid.UUID) -> bool:
        """Mark the token used; False when another request used it first.

        WHY: one conditional UPDATE rather than read-then-write: of concurrent refreshes with
        one token exactly one sees ``used_at IS NULL``; PostgreSQL makes the others wait for
        its row lock and then re-check the condition."""
        result = self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def is_revoked(self, family_id: uuid.UUID) -> bool:
        """Whether the family is revoked as committed now (not as an earlier read saw it)."""
        revoked_at = self.session.execute(
            select(RefreshFamily.revoked_at).where(RefreshFamily.id == family_id)
        ).scalar_one_or_none()
        return revoked_at is not None

    def used_at(self, token_id: uuid.UUID) -> datetime | None:
        """When the token was used, as committed now (after a lost ``claim``, the winner's)."""
        used: datetime | None = self.session.execute(
            select(RefreshToken.used_at).where(RefreshToken.id == token_id)
        ).scalar_one_or_none()
        return used

    def revoke_family_now(self, family_id: uuid.UUID, *, reason: str) -> None:
        """Revoke in a transaction of its own, committed even though this request fails.

        WHY: the request's transaction is rolled back first: it holds nothing worth keeping
        (the failed claim), and on SQLite its write lock would block the revocation."""
        self.session.rollback()
        with self.autonomous() as session, session.begin():
            session.execute(
                update(RefreshFamily)
                .where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_reason=reason)
            )

    def revoke_family(self, family_id: uuid.UUID, *, reason: str) -> None:
        self.session.execute(
            update(RefreshFamily)
            .where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )

    def revoke_all_of_user(self, user_id: uuid.UUID, *, reason: str) -> None:
        """Every open login of the user; its access tokens end with the user's not-before."""
        self.session.execute(
            update(RefreshFamily)
            .where(RefreshFamily.user_id == user_id, RefreshFamily.revoked_at.is_(None))
            .values(revoked_at=utcnow(), revoked_reason=reason)
            .execution_options(synchronize_session=False)
        )


class RevocationRepo:
    """The durable record of revoked access tokens, read when the Redis cache cannot answer."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def revoke_token(self, jti: str, *, expires_at: datetime) -> None:
        self.session.merge(RevokedAccessToken(jti=jti, expires_at=expires_at))
        self.session.flush()

    def is_revoked(
        self, *, jti: str, family_id: uuid.UUID | None, user_id: uuid.UUID, issued_at: datetime
    ) -> bool:
        """One query: the token logged out, its login revoked, or issued before not-before."""
        conditions = [
            exists().where(RevokedAccessToken.jti == jti),
            exists().where(User.id == user_id, User.tokens_not_before > issued_at),
        ]
        if family_id is not None:
            conditions.append(
                exists().where(RefreshFamily.id == family_id, RefreshFamily.revoked_at.is_not(None))
            )
        return bool(self.session.scalar(select(or_(*conditions))))

    def recent(self, *, now: datetime, access_token_ttl_s: int) -> Revocations:
        """What can still refuse a token: unexpired logouts, and families and users revoked
        within one access-token lifetime (older tokens have expired anyway)."""
        since = now - timedelta(seconds=access_token_ttl_s)
        tokens = self.session.execute(
            select(RevokedAccessToken.jti, RevokedAccessToken.expires_at).where(
                RevokedAccessToken.expires_at > now
            )
        ).all()
        families = self.session.execute(
            select(RefreshFamily.id, RefreshFamily.revoked_at).where(
                RefreshFamily.revoked_at > since
            )
        ).all()
        users = self.session.execute(
            select(User.id, User.tokens_not_before).where(User.tokens_not_before > since)
        ).all()
        return Revocations(
            tokens=[(jti, at) for jti, at in tokens],
            families=[(str(family), at) for family, at in families if at is not None],
            users=[(str(user), at) for user, at in users if at is not None],
        )
