"""Tables of the projects domain."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.common.orm import Base, TimestampedMixin


class Project(TimestampedMixin, Base):
    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)

    # WHY: the list is newest first by (created_at, id); this index serves its keyset pages.
    __table_args__ = (Index("ix_projects_created_at_id", "created_at", "id"),)
