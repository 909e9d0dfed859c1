"""Broken object-level authorization: user B calls every id-bearing operation with A's ids.

The cases come from openapi.yaml; an operation with a path parameter this suite cannot fill
fails here until the suite learns to create that kind of object."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from tests.integration.conftest import PASSWORD, register_and_login
from tests.integration.test_security_spec import Operation, operations, resolve, schema_example

API = "/api/v1"
PROBLEM = "application/problem+json"
TABLES = ("users", "projects", "tasks", "refresh_families", "refresh_tokens")
# Path parameters this suite knows how to fill with one of user A's objects.
KNOWN_PARAMETERS = ("project_id", "task_id", "user_id")

ID_BEARING = [op for op in operations() if op.path_parameters]


def minimal_value(schema: Mapping[str, Any]) -> Any:
    schema = resolve(schema)
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if kind in {"integer", "number"}:
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [minimal_value(schema["items"])] * int(schema.get("minItems", 0))
    properties: Mapping[str, Any] = schema.get("properties", {})
    names = list(schema.get("required", []))
    for name in properties:
        if len(names) >= int(schema.get("minProperties", 0)):
            break
        if name not in names:
            names.append(name)
    return {name: minimal_value(properties[name]) for name in names}


def valid_body(op: Operation) -> Any:
    media = op.json_body
    if media is None:
        return None
    example = schema_example(media)
    return example if example is not None else minimal_value(media["schema"])


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY id"))
                ]
                for table in TABLES
            }
    finally:
        engine.dispose()


@dataclass
class World:
    """User A's objects (one of each kind), user B's credentials and project."""

    client: TestClient
    a_headers: dict[str, str]
    b_headers: dict[str, str]
    ids: dict[str, str]
    b_project: str

    def a_view(self) -> dict[str, Any]:
        """Everything A can read about A's objects."""
        project = f"{API}/projects/{self.ids['project_id']}"
        task = f"{project}/tasks/{self.ids['task_id']}"
        return {
            url: (r.status_code, r.json())
            for url in (project, task, f"{project}/tasks", f"{API}/users/me", f"{API}/projects")
            for r in [self.client.get(url, headers=self.a_headers)]
        }


@pytest.fixture
def world(client: TestClient, other_headers: dict[str, str]) -> World:
    a_headers = {"Authorization": client.headers["authorization"]}
    me = client.get(f"{API}/users/me", headers=a_headers).json()
    project = client.post(f"{API}/projects", json={"name": "A's secret", "description": "mine"})
    assert project.status_code == 201
    project_id = project.json()["id"]
    task = client.post(f"{API}/projects/{project_id}/tasks", json={"title": "A's task"})
    assert task.status_code == 201
    b_project = client.post(f"{API}/projects", json={"name": "B's"}, headers=other_headers)
    assert b_project.status_code == 201
    return World(
        client=client,
        a_headers=a_headers,
        b_headers=other_headers,
        ids={"project_id": project_id, "task_id": task.json()["id"], "user_id": me["id"]},
        b_project=b_project.json()["id"],
    )


def call(world: World, op: Operation, values: Mapping[str, str], headers: dict[str, str]) -> Any:
    # WHY: `If-Match: *` passes every precondition (a 428 would hide what ownership answers).
    return world.client.request(
        op.method.upper(), op.url(values), json=valid_body(op), headers={**headers, "If-Match": "*"}
    )


def expected_for_b(op: Operation) -> int:
    """404 where B may call the operation at all; 403 where it needs a scope B lacks."""
    return 403 if op.required_scopes - {"projects"} else 404


def test_the_spec_has_id_bearing_operations_and_the_suite_knows_their_parameters() -> None:
    assert len(ID_BEARING) >= 8
    unknown = {
        f"{op.id}: {name}"
        for op in ID_BEARING
        for name in op.path_parameters
        if name not in KNOWN_PARAMETERS
    }
    assert not unknown, (
        f"path parameters without a BOLA fixture (add the object to `world`): {sorted(unknown)}"
    )


@pytest.mark.parametrize("op", ID_BEARING, ids=lambda op: op.id)
def test_user_b_gets_404_on_user_a_objects_and_nothing_changes(
    world: World, op: Operation, clean_postgres: str
) -> None:
    missing = [name for name in op.path_parameters if name not in world.ids]
    assert not missing, f"{op.id}: no object of user A for {missing}; extend the `world` fixture"
    before_view, before_rows = world.a_view(), snapshot(clean_postgres)

    response = call(world, op, world.ids, world.b_headers)

    assert response.status_code == expected_for_b(op), (op.id, response.text)
    assert response.headers["content-type"] == PROBLEM
    assert world.a_view() == before_view
    assert snapshot(clean_postgres) == before_rows
    if response.status_code == 404:
        # A's id and an id that never existed get the same kind of answer.
        random_ids = {name: str(uuid.uuid4()) for name in world.ids}
        unknown = call(world, op, random_ids, world.b_headers)
        assert unknown.status_code == 404
        assert unknown.json()["type"] == response.json()["type"]
        assert unknown.json()["title"] == response.json()["title"]


@pytest.mark.parametrize(
    "op", [op for op in ID_BEARING if "task_id" in op.path_parameters], ids=lambda op: op.id
)
def test_user_b_cannot_reach_a_task_of_user_a_through_bs_own_project(
    world: World, op: Operation, clean_postgres: str
) -> None:
    before_view, before_rows = world.a_view(), snapshot(clean_postgres)
    values = {**world.ids, "project_id": world.b_project}
    response = call(world, op, values, world.b_headers)
    assert response.status_code == 404, (op.id, response.text)
    assert world.a_view() == before_view
    assert snapshot(clean_postgres) == before_rows


def test_user_b_does_not_see_user_a_projects_in_lists(world: World) -> None:
    listed = world.client.get(f"{API}/projects", headers=world.b_headers).json()
    assert [p["id"] for p in listed["items"]] == [world.b_project]


ADMIN_OPERATIONS = [op for op in ID_BEARING if set(op.path_parameters) <= {"project_id", "task_id"}]


@pytest.fixture
def admin_headers(world: World, make_admin: Callable[[str], None]) -> dict[str, str]:
    admin = register_and_login(world.client)
    make_admin(admin["email"])
    pair = world.client.post(
        f"{API}/auth/token", json={"email": admin["email"], "password": PASSWORD}
    )
    assert pair.status_code == 200 and "admin" in pair.json()["scope"].split()
    return {"Authorization": f"Bearer {pair.json()['access_token']}"}


def test_an_admin_can_read_user_a_project_but_not_change_or_delete_it(
    world: World, admin_headers: dict[str, str], clean_postgres: str
) -> None:
    url = f"{API}/projects/{world.ids['project_id']}"
    as_owner = world.client.get(url, headers=world.a_headers).json()
    read = world.client.get(url, headers=admin_headers)
    assert read.status_code == 200
    assert read.json() == as_owner
    before = snapshot(clean_postgres)
    patch = world.client.patch(url, json={"name": "taken over"}, headers=admin_headers)
    assert patch.status_code == 403, patch.text
    assert patch.headers["content-type"] == PROBLEM
    delete = world.client.delete(url, headers={**admin_headers, "If-Match": "*"})
    assert delete.status_code == 403, delete.text
    assert snapshot(clean_postgres) == before
    assert world.client.get(url, headers=world.a_headers).json() == as_owner


@pytest.mark.parametrize("op", ADMIN_OPERATIONS, ids=lambda op: op.id)
def test_an_admin_reads_but_never_writes_user_a_objects(
    world: World, admin_headers: dict[str, str], op: Operation, clean_postgres: str
) -> None:
    before_view, before_rows = world.a_view(), snapshot(clean_postgres)
    response = call(world, op, world.ids, admin_headers)
    if op.method == "get":
        assert response.status_code == 200, (op.id, response.text)
    else:
        assert response.status_code == 403, (op.id, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert world.a_view() == before_view
    assert snapshot(clean_postgres) == before_rows
