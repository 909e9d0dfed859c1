"""In-memory repositories with the real ones' interface, for service tests without I/O."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from app.common.orm import utcnow
from app.modules.projects.models import Project
from app.modules.tasks.models import Task


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class FakeProjectRepo:
    def __init__(self, clock: Clock | None = None) -> None:
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
    def __init__(self, clock: Clock | None = None) -> None:
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
