"""Tables of the projects domain."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.orm import Base, TimestampedMixin


class Project(TimestampedMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # WHY: nullable only for projects created before accounts existed; those are visible to
    # administrators alone. Every new project has its creator as owner.
    owner_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    # WHY: the ETag. SQLAlchemy increments it on every UPDATE and adds it to the WHERE
    # clause, so a change never lands on a version other than the one that was read.
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a dict

    # WHY: the list is newest first by (created_at, id); this index serves its keyset pages.
    __table_args__ = (
        Index("ix_projects_created_at_id", "created_at", "id"),
        Index("ix_projects_owner_id_created_at_id", "owner_id", "created_at", "id"),
    )
