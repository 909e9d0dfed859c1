"""Tables of the tasks domain."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.common.orm import Base, TimestampedMixin

STATUSES = ("todo", "doing", "done")


class Task(TimestampedMixin, Base):
    __tablename__ = "tasks"

    project_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("projects.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="todo")
    # WHY: the ETag; SQLAlchemy increments it on every UPDATE (see Project.version).
    version: Mapped[int] = mapped_column(Integer, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads a dict

    __table_args__ = (
        CheckConstraint("status IN ('todo', 'doing', 'done')", name="status"),
        Index("ix_tasks_project_id_created_at_id", "project_id", "created_at", "id"),
    )
