"""Tables of the users domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.orm import Base, TimestampedMixin, utcnow

ROLES = ("user", "admin")


class User(TimestampedMixin, Base):
    __tablename__ = "users"

    # WHY: stored lower-cased, so uniqueness and login ignore the case of the address.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # WHY: access tokens issued before this moment are refused (disabled account); the
    # check reads it from Redis and falls back to this column.
    tokens_not_before: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )

    __table_args__ = (CheckConstraint("role IN ('user', 'admin')", name="role"),)
