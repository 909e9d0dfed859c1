"""ETag, If-None-Match (304), If-Match (412) and the required If-Match (428) on projects and
tasks, on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

API = "/api/v1"
PROBLEM = "application/problem+json"


def row(url: str, table: str, row_id: str) -> Any:
    engine = create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}
        ).first()
    engine.dispose()
    return found


@pytest.fixture
def project(client: TestClient) -> dict[str, Any]:
    created = client.post(f"{API}/projects", json={"name": "Tagged"})
    assert created.status_code == 201
    return {**created.json(), "url": created.headers["location"], "etag": created.headers["etag"]}


@pytest.fixture
def task(client: TestClient, project: dict[str, Any]) -> dict[str, Any]:
    created = client.post(f"{project['url']}/tasks", json={"title": "Tagged"})
    assert created.status_code == 201
    return {**created.json(), "url": created.headers["location"], "etag": created.headers["etag"]}


@pytest.fixture(params=["project", "task"])
def resource(request: pytest.FixtureRequest) -> dict[str, Any]:
    value: dict[str, Any] = request.getfixturevalue(request.param)
    value["table"] = "projects" if request.param == "project" else "tasks"
    value["change"] = {"name": "Renamed"} if request.param == "project" else {"title": "Renamed"}
    return value


def test_etags_follow_the_version_through_reads_changes_and_deletes(
    client: TestClient, resource: dict[str, Any], clean_postgres: str
) -> None:
    assert resource["etag"] == '"1"'
    read = client.get(resource["url"])
    assert read.status_code == 200 and read.headers["etag"] == resource["etag"]
    for header in (resource["etag"], f'"0", {resource["etag"]}', f"W/{resource['etag']}", "*"):
        cached = client.get(resource["url"], headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == resource["etag"]
    assert client.get(resource["url"], headers={"If-None-Match": '"0"'}).status_code == 200

    same = {"If-Match": resource["etag"]}
    first = client.patch(resource["url"], json=resource["change"], headers=same)
    second = client.patch(resource["url"], json=resource["change"], headers=same)
    assert (first.status_code, second.status_code) == (200, 412), second.text
    assert first.headers["etag"] == '"2"'
    assert row(clean_postgres, resource["table"], resource["id"]).version == 2
    assert client.get(resource["url"]).headers["etag"] == '"2"'
    assert client.get(resource["url"], headers={"If-None-Match": '"1"'}).status_code == 200

    deleted = client.delete(resource["url"], headers={"If-Match": '"9", "2"'})
    assert deleted.status_code == 204
    assert client.get(resource["url"]).status_code == 404
    assert client.delete(resource["url"], headers={"If-Match": "*"}).status_code == 404


def test_a_stale_weak_or_malformed_if_match_is_a_412_and_changes_nothing(
    client: TestClient, resource: dict[str, Any], clean_postgres: str
) -> None:
    before = row(clean_postgres, resource["table"], resource["id"])
    for if_match in ('"7"', 'W/"1"', "not-a-tag"):
        for method, body in (("PATCH", resource["change"]), ("DELETE", None)):
            refused = client.request(
                method, resource["url"], json=body, headers={"If-Match": if_match}
            )
            assert refused.status_code == 412, (if_match, method, refused.text)
            assert refused.headers["content-type"] == PROBLEM
            assert refused.json()["type"].endswith("/precondition-failed")
    assert row(clean_postgres, resource["table"], resource["id"]) == before


def test_only_deleting_a_project_needs_if_match(
    client: TestClient, task: dict[str, Any], project: dict[str, Any], clean_postgres: str
) -> None:
    for url in (f"{API}/projects", f"{project['url']}/tasks"):
        listed = client.get(url, headers={"If-None-Match": "*"})
        assert listed.status_code == 200 and "etag" not in listed.headers
    assert client.patch(project["url"], json={"name": "x"}).headers["etag"] == '"2"'
    assert client.patch(task["url"], json={"status": "doing"}).headers["etag"] == '"2"'
    assert client.delete(task["url"]).status_code == 204
    refused = client.delete(project["url"])
    assert refused.status_code == 428
    assert refused.json()["type"].endswith("/precondition-required")
    assert row(clean_postgres, "projects", project["id"]) is not None
    assert client.delete(project["url"], headers={"If-Match": "*"}).status_code == 204
