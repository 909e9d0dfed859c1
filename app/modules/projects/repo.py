"""Every query of the projects domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.common.errors import ProjectNotFound
from app.modules.projects.models import Project
from runtime import Position, keyset


class ProjectRepo:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, *, name: str, description: str | None, owner_id: uuid.UUID) -> Project:
        project = Project(name=name, description=description, owner_id=owner_id)
        self.session.add(project)
        self.session.flush()
        return project

    def get(self, project_id: uuid.UUID, *, lock: bool = False) -> Project | None:
        """The project; ``lock`` holds its row until the transaction ends (a write follows).

        WHY: the If-Match check and the write must see the same version; FOR UPDATE makes a
        concurrent writer wait instead of changing the row in between."""
        if not lock:
            return self.session.get(Project, project_id)
        query = select(Project).where(Project.id == project_id).with_for_update()
        return self.session.scalar(query.execution_options(populate_existing=True))

    def list_page(
        self,
        *,
        limit: int,
        owner_id: uuid.UUID | None,
        after: Position | None = None,
    ) -> Sequence[Project]:
        """Newest first, of one owner (None: everyone's); ``after`` is the last item seen."""
        query = select(Project)
        if owner_id is not None:
            query = query.where(Project.owner_id == owner_id)
        query = keyset(
            query, Project.created_at, Project.id, limit=limit, after=after, newest_first=True
        )
        return self.session.scalars(query).all()

    def delete(self, project: Project) -> None:
        self.session.delete(project)
        self.flush()

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError:
            # WHY: a concurrent request deleted the row between our read and this write (the
            # UPDATE matched no row); for this request the project does not exist any more.
            raise ProjectNotFound("The project was deleted by a concurrent request.") from None
