"""Business rules of the projects domain. Hand-owned: ``python -m codegen`` never rewrites it."""

from __future__ import annotations

import uuid

from app.common.auth import is_admin, user_id
from app.common.errors import ProjectNotFound
from app.common.utils import API_PREFIX
from app.modules.components import Project, ProjectPage
from app.modules.projects import models
from app.modules.projects.repo import ProjectRepo
from app.modules.projects.schemas import (
    CreateProject201,
    CreateProject201Headers,
    CreateProjectRequest,
    DeleteProject204,
    DeleteProjectRequest,
    GetProject200,
    GetProject200Headers,
    GetProject304,
    GetProject304Headers,
    GetProjectRequest,
    ListProjects200,
    ListProjects200Headers,
    ListProjectsRequest,
    UpdateProject200,
    UpdateProject200Headers,
    UpdateProjectRequest,
)
from runtime import (
    Forbidden,
    Principal,
    as_utc,
    check_if_match,
    cursor_position,
    entity_tag,
    not_modified,
    page,
    service,
)


def visible_project(
    repo: ProjectRepo,
    project_id: uuid.UUID,
    caller: Principal,
    *,
    write: bool = False,
    lock: bool = False,
) -> models.Project:
    """The project if the caller may see it; changing one needs its owner.

    WHY: another user's project is a 404, not a 403, so ids do not confirm what exists.
    Administrators read every project but change only their own (403 on the others)."""
    project = repo.get(project_id, lock=lock)
    owned = project is not None and project.owner_id == user_id(caller)
    if project is None or not (owned or is_admin(caller)):
        raise ProjectNotFound(f"There is no project {project_id}.")
    if write and not owned:
        raise Forbidden("Administrators may read this project but only its owner may change it.")
    return project


def project_etag(row: models.Project) -> str:
    return entity_tag(row.version)


def to_project(row: models.Project) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class ProjectsServiceImpl:
    def __init__(self, repo: ProjectRepo) -> None:
        self.repo = repo

    def _get(
        self, project_id: uuid.UUID, caller: Principal, *, write: bool = False
    ) -> models.Project:
        return visible_project(self.repo, project_id, caller, write=write, lock=write)

    def list_projects(self, request: ListProjectsRequest) -> ListProjects200:
        query = request.query
        owner = None if is_admin(request.caller) else user_id(request.caller)
        rows = self.repo.list_page(
            limit=query.limit + 1, owner_id=owner, after=cursor_position(query.cursor)
        )
        found = page(rows, limit=query.limit, path=f"{API_PREFIX}/projects", params={})
        return ListProjects200(
            body=ProjectPage(items=[to_project(p) for p in found.items], next=found.next),
            headers=ListProjects200Headers(link=found.link),
        )

    def create_project(self, request: CreateProjectRequest) -> CreateProject201:
        project = self.repo.add(
            name=request.body.name,
            description=request.body.description,
            owner_id=user_id(request.caller),
        )
        return CreateProject201(
            body=to_project(project),
            headers=CreateProject201Headers(
                location=f"{API_PREFIX}/projects/{project.id}", e_tag=project_etag(project)
            ),
        )

    def get_project(self, request: GetProjectRequest) -> GetProject200 | GetProject304:
        project = self._get(request.path.project_id, request.caller)
        etag = project_etag(project)
        if not_modified(request.header.if_none_match, etag):
            return GetProject304(headers=GetProject304Headers(e_tag=etag))
        return GetProject200(body=to_project(project), headers=GetProject200Headers(e_tag=etag))

    def update_project(self, request: UpdateProjectRequest) -> UpdateProject200:
        project = self._get(request.path.project_id, request.caller, write=True)
        check_if_match(request.header.if_match, project_etag(project))
        changes = request.body.model_dump(exclude_unset=True)
        if "name" in changes and changes["name"] is None:
            changes.pop("name")
        for field, value in changes.items():
            setattr(project, field, value)
        self.repo.flush()
        return UpdateProject200(
            body=to_project(project), headers=UpdateProject200Headers(e_tag=project_etag(project))
        )

    def delete_project(self, request: DeleteProjectRequest) -> DeleteProject204:
        project = self._get(request.path.project_id, request.caller, write=True)
        check_if_match(request.header.if_match, project_etag(project))
        self.repo.delete(project)
        return DeleteProject204()


def get_service() -> ProjectsServiceImpl:
    """The current app's projects service (built in ``app.wiring``)."""
    return service(ProjectsServiceImpl)
