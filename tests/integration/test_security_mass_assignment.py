"""Mass assignment: a write operation refuses fields the client may not set, and changes nothing.

Every POST/PUT/PATCH with a JSON body in openapi.yaml gets a valid body plus one protected field;
the answer must be a 400 naming exactly that field, and no row of the database may change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from tests.integration.conftest import PASSWORD, register_and_login
from tests.integration.test_security_bola import minimal_value
from tests.integration.test_security_spec import (
    WRITE_METHODS,
    Operation,
    operations,
    resolve,
    schema_example,
)

API = "/api/v1"
PROBLEM = "application/problem+json"
TABLES = ("users", "projects", "tasks", "refresh_families", "refresh_tokens")

WRITE_OPERATIONS = [op for op in operations() if op.method in WRITE_METHODS and op.json_body]


@dataclass
class Context:
    """User A with a project, a task and an unused refresh token; user B with a project."""

    a: dict[str, Any]
    b: dict[str, Any]
    project_id: str
    task_id: str
    b_project_id: str

    def path_values(self) -> dict[str, str]:
        return {"project_id": self.project_id, "task_id": self.task_id, "user_id": self.a["id"]}

    def injected(self) -> dict[str, Callable[[], Any]]:
        """Each protected field with a value an attacker would want it to take."""
        return {
            "id": lambda: str(uuid.uuid4()),
            "owner_id": lambda: self.b["id"],
            "role": lambda: "admin",
            "is_admin": lambda: True,
            "created_at": lambda: "2000-01-01T00:00:00Z",
            "project_id": lambda: self.b_project_id,
            "is_disabled": lambda: True,
        }

    def body(self, op: Operation) -> dict[str, Any]:
        """A body the operation would accept (and act on) as it stands."""
        media = op.json_body
        assert media is not None
        example = schema_example(media)
        base = example if example is not None else minimal_value(media["schema"])
        body: dict[str, Any] = dict(base)
        names = set(resolve(media["schema"]).get("properties", {}))
        # Real values where a placeholder would fail for a reason other than the extra field.
        if "refresh_token" in names:
            body["refresh_token"] = self.a["refresh_token"]
        if {"email", "password"} <= names:
            if op.operation.get("responses", {}).get("201"):
                body["email"] = f"new-{uuid.uuid4().hex[:8]}@example.com"
                body["password"] = PASSWORD
            else:
                body["email"], body["password"] = self.a["email"], PASSWORD
        if "current_password" in names:
            body["current_password"] = PASSWORD
        return body


FIELDS = ["id", "owner_id", "role", "is_admin", "created_at", "project_id", "is_disabled"]


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


@pytest.fixture
def context(anonymous: TestClient) -> Context:
    a = register_and_login(anonymous)
    b = register_and_login(anonymous)
    project = anonymous.post(f"{API}/projects", json={"name": "A"}, headers=a["headers"])
    assert project.status_code == 201
    project_id = project.json()["id"]
    task = anonymous.post(
        f"{API}/projects/{project_id}/tasks", json={"title": "t"}, headers=a["headers"]
    )
    assert task.status_code == 201
    b_project = anonymous.post(f"{API}/projects", json={"name": "B"}, headers=b["headers"])
    assert b_project.status_code == 201
    return Context(a, b, project_id, task.json()["id"], b_project.json()["id"])


def test_the_spec_has_write_operations_with_json_bodies() -> None:
    assert len(WRITE_OPERATIONS) >= 8


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("op", WRITE_OPERATIONS, ids=lambda op: op.id)
def test_a_write_with_a_protected_field_is_a_400_naming_it_and_changes_nothing(
    anonymous: TestClient, context: Context, clean_postgres: str, op: Operation, field: str
) -> None:
    body = context.body(op)
    assert field not in body
    body[field] = context.injected()[field]()
    before = snapshot(clean_postgres)

    response = anonymous.request(
        op.method.upper(), op.url(context.path_values()), json=body, headers=context.a["headers"]
    )

    assert response.status_code == 400, (op.id, response.text)
    assert response.headers["content-type"] == PROBLEM
    pointers = [error["pointer"] for error in response.json().get("errors", [])]
    # Exactly the injected field: the rest of the body was valid.
    assert pointers == [f"#/{field}"], (op.id, response.text)
    assert snapshot(clean_postgres) == before


@pytest.mark.parametrize("op", WRITE_OPERATIONS, ids=lambda op: op.id)
def test_the_base_body_of_each_write_is_valid(
    anonymous: TestClient, context: Context, op: Operation
) -> None:
    """The control: without the protected field the same request is not a validation error."""
    response = anonymous.request(
        op.method.upper(),
        op.url(context.path_values()),
        json=context.body(op),
        headers=context.a["headers"],
    )
    assert response.status_code < 400, (op.id, response.text)
