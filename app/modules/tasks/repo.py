"""Every query of the tasks domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.common.errors import ProjectNotFound, TaskNotFound
from app.modules.projects.models import Project
from app.modules.tasks.models import Task
from runtime import Position, keyset


class TaskRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, project_id: uuid.UUID, title: str) -> Task:
        # WHY: a concurrent DELETE of the project between the service's existence check and
        # this INSERT made it a foreign-key violation (a 500). FOR KEY SHARE holds the project
        # until this transaction ends (that DELETE waits), or finds it already gone.
        parent = select(Project.id).where(Project.id == project_id)
        if self.session.scalar(parent.with_for_update(read=True, key_share=True)) is None:
            raise ProjectNotFound("The project was deleted by a concurrent request.")
        task = Task(project_id=project_id, title=title, status="todo")
        self.session.add(task)
        self.session.flush()
        return task

    def get(self, project_id: uuid.UUID, task_id: uuid.UUID, *, lock: bool = False) -> Task | None:
        """The task of that project; ``lock`` holds its row for a write (see ProjectRepo.get)."""
        if lock:
            query = select(Task).where(Task.id == task_id).with_for_update()
            task = self.session.scalar(query.execution_options(populate_existing=True))
        else:
            task = self.session.get(Task, task_id)
        return task if task is not None and task.project_id == project_id else None

    def list_page(
        self,
        *,
        project_id: uuid.UUID,
        limit: int,
        status: str | None = None,
        after: Position | None = None,
    ) -> Sequence[Task]:
        """Oldest first; ``after`` is the (created_at, id) of the last item already seen."""
        query = select(Task).where(Task.project_id == project_id)
        if status is not None:
            query = query.where(Task.status == status)
        query = keyset(query, Task.created_at, Task.id, limit=limit, after=after)
        return self.session.scalars(query).all()

    def delete(self, task: Task) -> None:
        self.session.delete(task)
        self.flush()

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError:
            # WHY: a concurrent request deleted the task (or its project) between our read and
            # this write (the UPDATE matched no row); for this request the task is gone.
            raise TaskNotFound("The task was deleted by a concurrent request.") from None
