"""The services' business rules against in-memory repositories."""

from __future__ import annotations

import uuid

import pytest

from app.common.errors import InvalidTransition, ProjectNotFound, TaskNotFound
from app.modules.components import ProjectCreate, ProjectUpdate, TaskCreate, TaskUpdate
from app.modules.projects import schemas as ps
from app.modules.projects.service import ProjectsServiceImpl
from app.modules.tasks import schemas as ts
from app.modules.tasks.service import TasksServiceImpl, check_transition
from runtime.auth import Principal
from runtime.errors import Forbidden, ValidationProblem
from runtime.testing import principal
from tests.unit.app.fakes import Clock, FakeProjectRepo, FakeTaskRepo

ALICE = principal()
BOB = principal()
ADMIN = principal(scopes=("projects", "admin"))


@pytest.fixture
def projects() -> ProjectsServiceImpl:
    return ProjectsServiceImpl(FakeProjectRepo())


@pytest.fixture
def tasks() -> TasksServiceImpl:
    clock = Clock()
    repo = FakeProjectRepo(clock)
    repo.add(name="p", description=None, owner_id=uuid.UUID(ALICE.subject))
    return TasksServiceImpl(FakeTaskRepo(clock), repo)


def project_id_of(service: TasksServiceImpl) -> uuid.UUID:
    return next(iter(service.projects.rows))  # type: ignore[attr-defined]


def create(
    service: ProjectsServiceImpl, name: str, caller: Principal = ALICE
) -> ps.CreateProject201:
    return service.create_project(
        ps.CreateProjectRequest(caller=caller, body=ProjectCreate(name=name))
    )


def test_create_returns_the_project_and_its_location(projects: ProjectsServiceImpl) -> None:
    created = create(projects, "Relaunch")
    assert created.status_code == 201
    assert created.headers.location == f"/api/v1/projects/{created.body.id}"
    assert created.body.created_at.tzinfo is not None


def test_list_pages_newest_first_with_a_next_link(projects: ProjectsServiceImpl) -> None:
    names = [create(projects, f"p{i}").body.name for i in range(3)]
    first = projects.list_projects(
        ps.ListProjectsRequest(caller=ALICE, query=ps.ListProjectsQuery(limit=2))
    )
    assert [p.name for p in first.body.items] == names[::-1][:2]
    assert first.body.next and first.headers.link == f'<{first.body.next}>; rel="next"'
    cursor = first.body.next.split("cursor=")[1].split("&")[0]
    second = projects.list_projects(
        ps.ListProjectsRequest(caller=ALICE, query=ps.ListProjectsQuery(limit=2, cursor=cursor))
    )
    assert [p.name for p in second.body.items] == [names[0]]
    assert second.body.next is None and second.headers.link is None


def test_a_forged_cursor_is_a_validation_problem(projects: ProjectsServiceImpl) -> None:
    with pytest.raises(ValidationProblem):
        projects.list_projects(
            ps.ListProjectsRequest(
                caller=ALICE,
                # model_construct skips the pattern: a caller other than the API (a job, a CLI)
                # still cannot hand the service a forged cursor.
                query=ps.ListProjectsQuery.model_construct(limit=20, cursor="WyJ4IiwieSJd"),
            )
        )


def test_update_changes_only_what_was_sent(projects: ProjectsServiceImpl) -> None:
    project = projects.create_project(
        ps.CreateProjectRequest(caller=ALICE, body=ProjectCreate(name="a", description="keep"))
    ).body
    path = ps.UpdateProjectPath(project_id=project.id)
    updated = projects.update_project(
        ps.UpdateProjectRequest(caller=ALICE, path=path, body=ProjectUpdate(name="b"))
    ).body
    assert (updated.name, updated.description) == ("b", "keep")
    cleared = projects.update_project(
        ps.UpdateProjectRequest(caller=ALICE, path=path, body=ProjectUpdate(description=None))
    ).body
    assert (cleared.name, cleared.description) == ("b", None)


def test_a_missing_project_is_not_found(projects: ProjectsServiceImpl) -> None:
    with pytest.raises(ProjectNotFound):
        projects.get_project(
            ps.GetProjectRequest(caller=ALICE, path=ps.GetProjectPath(project_id=uuid.uuid4()))
        )


@pytest.mark.parametrize(
    ("current", "wanted"),
    [("todo", "todo"), ("todo", "doing"), ("doing", "done"), ("done", "done")],
)
def test_allowed_transitions(current: str, wanted: str) -> None:
    check_transition(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [("todo", "done"), ("doing", "todo"), ("done", "doing"), ("done", "todo")],
)
def test_forbidden_transitions_are_conflicts(current: str, wanted: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current, wanted)
    assert caught.value.status == 409


def test_a_task_moves_through_its_workflow(tasks: TasksServiceImpl) -> None:
    pid = project_id_of(tasks)
    task = tasks.create_task(
        ts.CreateTaskRequest(
            caller=ALICE, path=ts.CreateTaskPath(project_id=pid), body=TaskCreate(title="t")
        )
    ).body
    path = ts.UpdateTaskPath(project_id=pid, task_id=task.id)
    for status in ("doing", "done"):
        moved = tasks.update_task(
            ts.UpdateTaskRequest(
                caller=ALICE, path=path, body=TaskUpdate.model_validate({"status": status})
            )
        )
        assert moved.body.status.value == status
    with pytest.raises(InvalidTransition):
        tasks.update_task(
            ts.UpdateTaskRequest(
                caller=ALICE, path=path, body=TaskUpdate.model_validate({"status": "todo"})
            )
        )


def test_tasks_of_an_unknown_project_are_not_found(tasks: TasksServiceImpl) -> None:
    with pytest.raises(ProjectNotFound):
        tasks.list_tasks(
            ts.ListTasksRequest(
                caller=ALICE,
                path=ts.ListTasksPath(project_id=uuid.uuid4()),
                query=ts.ListTasksQuery(),
            )
        )
    with pytest.raises(TaskNotFound):
        tasks.get_task(
            ts.GetTaskRequest(
                caller=ALICE,
                path=ts.GetTaskPath(project_id=project_id_of(tasks), task_id=uuid.uuid4()),
            )
        )


def test_list_tasks_filters_by_status(tasks: TasksServiceImpl) -> None:
    pid = project_id_of(tasks)
    for title in ("a", "b"):
        tasks.create_task(
            ts.CreateTaskRequest(
                caller=ALICE, path=ts.CreateTaskPath(project_id=pid), body=TaskCreate(title=title)
            )
        )
    listed = tasks.list_tasks(
        ts.ListTasksRequest(
            caller=ALICE,
            path=ts.ListTasksPath(project_id=pid),
            query=ts.ListTasksQuery.model_validate({"status": "todo", "limit": 1}),
        )
    )
    assert [t.title for t in listed.body.items] == ["a"]
    assert listed.body.next is not None and "status=todo" in listed.body.next


def test_another_users_project_is_not_found_and_not_listed(projects: ProjectsServiceImpl) -> None:
    mine = create(projects, "mine").body
    create(projects, "theirs", caller=BOB)
    with pytest.raises(ProjectNotFound):
        projects.get_project(
            ps.GetProjectRequest(caller=BOB, path=ps.GetProjectPath(project_id=mine.id))
        )
    listed = projects.list_projects(
        ps.ListProjectsRequest(caller=ALICE, query=ps.ListProjectsQuery())
    )
    assert [p.name for p in listed.body.items] == ["mine"]


def test_an_admin_reads_every_project_but_changes_only_their_own(
    projects: ProjectsServiceImpl,
) -> None:
    theirs = create(projects, "theirs").body
    path = ps.GetProjectPath(project_id=theirs.id)
    assert projects.get_project(ps.GetProjectRequest(caller=ADMIN, path=path)).body.id == theirs.id
    everyone = projects.list_projects(
        ps.ListProjectsRequest(caller=ADMIN, query=ps.ListProjectsQuery())
    )
    assert len(everyone.body.items) == 1
    with pytest.raises(Forbidden):
        projects.delete_project(
            ps.DeleteProjectRequest(caller=ADMIN, path=ps.DeleteProjectPath(project_id=theirs.id))
        )
