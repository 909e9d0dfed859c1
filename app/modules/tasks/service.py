"""Business rules of the tasks domain. Hand-owned: ``python -m codegen`` never rewrites it."""

from __future__ import annotations

import uuid

from app.common.errors import InvalidTransition, TaskNotFound
from app.common.utils import API_PREFIX
from app.modules.components import Task, TaskPage
from app.modules.projects.repo import ProjectRepo
from app.modules.projects.service import visible_project
from app.modules.tasks import models
from app.modules.tasks.repo import TaskRepo
from app.modules.tasks.schemas import (
    CreateTask201,
    CreateTask201Headers,
    CreateTaskRequest,
    DeleteTask204,
    DeleteTaskRequest,
    GetTask200,
    GetTask200Headers,
    GetTask304,
    GetTask304Headers,
    GetTaskRequest,
    ListTasks200,
    ListTasks200Headers,
    ListTasksRequest,
    UpdateTask200,
    UpdateTask200Headers,
    UpdateTaskRequest,
)
from runtime import (
    Principal,
    as_utc,
    check_if_match,
    cursor_position,
    entity_tag,
    not_modified,
    page,
    service,
)

# WHY: a task moves one step forward at a time; staying put is allowed so PATCH stays idempotent.
NEXT_STATUS = {"todo": "doing", "doing": "done"}


def check_transition(current: str, wanted: str) -> None:
    if wanted != current and NEXT_STATUS.get(current) != wanted:
        raise InvalidTransition(f"A task in status {current!r} cannot move to {wanted!r}.")


def task_etag(row: models.Task) -> str:
    return entity_tag(row.version)


def to_task(row: models.Task) -> Task:
    return Task.model_validate(
        {
            "id": row.id,
            "project_id": row.project_id,
            "title": row.title,
            "status": row.status,
            "created_at": as_utc(row.created_at),
            "updated_at": as_utc(row.updated_at),
        }
    )


class TasksServiceImpl:
    def __init__(self, tasks: TaskRepo, projects: ProjectRepo) -> None:
        self.tasks = tasks
        self.projects = projects

    def _project_id(
        self, project_id: uuid.UUID, caller: Principal, *, write: bool = False
    ) -> uuid.UUID:
        return visible_project(self.projects, project_id, caller, write=write).id

    def _get(
        self, project_id: uuid.UUID, task_id: uuid.UUID, caller: Principal, *, write: bool = False
    ) -> models.Task:
        task = self.tasks.get(
            self._project_id(project_id, caller, write=write), task_id, lock=write
        )
        if task is None:
            raise TaskNotFound(f"There is no task {task_id} in project {project_id}.")
        return task

    def list_tasks(self, request: ListTasksRequest) -> ListTasks200:
        query = request.query
        project_id = self._project_id(request.path.project_id, request.caller)
        status = query.status.value if query.status is not None else None
        rows = self.tasks.list_page(
            project_id=project_id,
            limit=query.limit + 1,
            status=status,
            after=cursor_position(query.cursor),
        )
        found = page(
            rows,
            limit=query.limit,
            path=f"{API_PREFIX}/projects/{project_id}/tasks",
            params={"status": status},
        )
        return ListTasks200(
            body=TaskPage(items=[to_task(t) for t in found.items], next=found.next),
            headers=ListTasks200Headers(link=found.link),
        )

    def create_task(self, request: CreateTaskRequest) -> CreateTask201:
        project_id = self._project_id(request.path.project_id, request.caller, write=True)
        task = self.tasks.add(project_id=project_id, title=request.body.title)
        return CreateTask201(
            body=to_task(task),
            headers=CreateTask201Headers(
                location=f"{API_PREFIX}/projects/{project_id}/tasks/{task.id}",
                e_tag=task_etag(task),
            ),
        )

    def get_task(self, request: GetTaskRequest) -> GetTask200 | GetTask304:
        path = request.path
        task = self._get(path.project_id, path.task_id, request.caller)
        etag = task_etag(task)
        if not_modified(request.header.if_none_match, etag):
            return GetTask304(headers=GetTask304Headers(e_tag=etag))
        return GetTask200(body=to_task(task), headers=GetTask200Headers(e_tag=etag))

    def update_task(self, request: UpdateTaskRequest) -> UpdateTask200:
        path = request.path
        task = self._get(path.project_id, path.task_id, request.caller, write=True)
        check_if_match(request.header.if_match, task_etag(task))
        changes = request.body
        if changes.status is not None:
            check_transition(task.status, changes.status.value)
            task.status = changes.status.value
        if changes.title is not None:
            task.title = changes.title
        self.tasks.flush()
        return UpdateTask200(
            body=to_task(task), headers=UpdateTask200Headers(e_tag=task_etag(task))
        )

    def delete_task(self, request: DeleteTaskRequest) -> DeleteTask204:
        path = request.path
        task = self._get(path.project_id, path.task_id, request.caller, write=True)
        check_if_match(request.header.if_match, task_etag(task))
        self.tasks.delete(task)
        return DeleteTask204()


def get_service() -> TasksServiceImpl:
    """The current app's tasks service (built in ``app.wiring``)."""
    return service(TasksServiceImpl)
