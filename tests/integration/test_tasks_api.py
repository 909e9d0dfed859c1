"""The task workflow: status moves forward one step at a time."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

API = "/api/v1"


@pytest.fixture
def project_id(client: TestClient) -> str:
    response = client.post(f"{API}/projects", json={"name": "Workflow"})
    assert response.status_code == 201
    return str(response.json()["id"])


def add_task(client: TestClient, project_id: str, title: str = "Draft") -> dict[str, object]:
    response = client.post(f"{API}/projects/{project_id}/tasks", json={"title": title})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_new_task_starts_as_todo_and_moves_to_done(client: TestClient, project_id: str) -> None:
    task = add_task(client, project_id)
    assert task["status"] == "todo"
    url = f"{API}/projects/{project_id}/tasks/{task['id']}"
    assert client.patch(url, json={"status": "doing"}).json()["status"] == "doing"
    assert client.patch(url, json={"status": "done"}).json()["status"] == "done"
    assert client.get(url).json()["status"] == "done"


@pytest.mark.parametrize(
    ("path", "wanted"), [([], "done"), (["doing"], "todo"), (["doing", "done"], "doing")]
)
def test_an_invalid_transition_is_a_409_and_changes_nothing(
    client: TestClient, project_id: str, path: list[str], wanted: str
) -> None:
    task = add_task(client, project_id)
    url = f"{API}/projects/{project_id}/tasks/{task['id']}"
    for status in path:
        assert client.patch(url, json={"status": status}).status_code == 200
    response = client.patch(url, json={"status": wanted, "title": "changed"})
    assert response.status_code == 409
    assert response.json()["type"].endswith("/invalid-status-transition")
    after = client.get(url).json()
    assert after["status"] == (path[-1] if path else "todo")
    assert after["title"] == "Draft"


def test_tasks_list_filters_by_status_and_pages(client: TestClient, project_id: str) -> None:
    ids = [add_task(client, project_id, f"t{i}")["id"] for i in range(3)]
    client.patch(f"{API}/projects/{project_id}/tasks/{ids[1]}", json={"status": "doing"})
    doing = client.get(f"{API}/projects/{project_id}/tasks?status=doing").json()
    assert [t["id"] for t in doing["items"]] == [ids[1]]
    first = client.get(f"{API}/projects/{project_id}/tasks?limit=2").json()
    assert [t["id"] for t in first["items"]] == ids[:2]
    second = client.get(first["next"]).json()
    assert [t["id"] for t in second["items"]] == ids[2:] and second["next"] is None


def test_a_task_of_another_project_is_not_found(client: TestClient, project_id: str) -> None:
    task = add_task(client, project_id)
    other = client.post(f"{API}/projects", json={"name": "Other"}).json()["id"]
    response = client.get(f"{API}/projects/{other}/tasks/{task['id']}")
    assert response.status_code == 404
    missing = client.post(f"{API}/projects/{uuid.uuid4()}/tasks", json={"title": "x"})
    assert missing.status_code == 404


def test_a_deleted_task_is_gone(client: TestClient, project_id: str) -> None:
    task = add_task(client, project_id)
    url = f"{API}/projects/{project_id}/tasks/{task['id']}"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
