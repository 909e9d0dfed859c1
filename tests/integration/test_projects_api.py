"""Projects and tasks through the whole stack, on PostgreSQL and Redis."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

API = "/api/v1"
PROBLEM = "application/problem+json"


def create_project(
    client: TestClient, name: str = "Relaunch", **extra: object
) -> dict[str, object]:
    response = client.post(f"{API}/projects", json={"name": name, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_created_project_can_be_read_back_from_its_location(client: TestClient) -> None:
    response = client.post(f"{API}/projects", json={"name": "Relaunch", "description": None})
    assert response.status_code == 201
    project = response.json()
    assert response.headers["location"] == f"{API}/projects/{project['id']}"
    assert response.headers["content-type"] == "application/json"
    fetched = client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == project
    assert project["created_at"].endswith(("Z", "+00:00"))


def test_patch_changes_only_the_fields_sent(client: TestClient) -> None:
    project = create_project(client, description="keep me")
    response = client.patch(f"{API}/projects/{project['id']}", json={"name": "Renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["description"] == "keep me"


def test_delete_removes_the_project_and_its_tasks(client: TestClient, clean_postgres: str) -> None:
    project = create_project(client)
    client.post(f"{API}/projects/{project['id']}/tasks", json={"title": "t"})
    url = f"{API}/projects/{project['id']}"
    assert (
        client.delete(url, headers={"If-Match": client.get(url).headers["etag"]}).status_code == 204
    )
    assert client.get(f"{API}/projects/{project['id']}").status_code == 404
    engine = create_engine(clean_postgres)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar_one() == 0
    engine.dispose()


def test_pages_follow_next_links_until_the_end_without_repeats(client: TestClient) -> None:
    created = {create_project(client, f"p{i}")["id"] for i in range(5)}
    seen: list[str] = []
    url: str | None = f"{API}/projects?limit=2"
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        seen += [p["id"] for p in body["items"]]
        url = body["next"]
        if url:
            assert response.headers["link"] == f'<{url}>; rel="next"'
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5 and set(seen) == created


def test_an_unknown_project_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"{API}/projects/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("/project-not-found")
    assert body["request_id"] == response.headers["x-request-id"]


def test_invalid_input_lists_every_invalid_field(client: TestClient) -> None:
    response = client.post(
        f"{API}/projects",
        json={"name": "", "description": 5, "id": "x", "created_at": "now"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    pointers = sorted(e["pointer"] for e in response.json()["errors"])
    assert pointers == ["#/created_at", "#/description", "#/id", "#/name"]


def test_invalid_parameters_are_all_reported(client: TestClient) -> None:
    response = client.get(f"{API}/projects?limit=0&cursor=!&colour=red")
    assert response.status_code == 400
    errors = response.json()["errors"]
    # The cursor breaks two rules (its length and its shape); each is reported.
    assert sorted(e["pointer"] for e in errors) == [
        "#/query/colour",
        "#/query/cursor",
        "#/query/cursor",
        "#/query/limit",
    ]


def test_a_cursor_not_made_by_the_api_is_a_400(client: TestClient) -> None:
    response = client.get(f"{API}/projects?cursor=bm90LWEtY3Vyc29yLXRoaXMtaXMtbm90LWEtY3Vyc29y")
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/query/cursor"


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe\xfd", b'{"name": "\\ud800"}', b'{"name": '],
    ids=["utf8", "surrogate", "json"],
)
def test_malformed_bodies_are_400_not_500(client: TestClient, raw: bytes) -> None:
    response = client.post(
        f"{API}/projects", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text


def test_a_nul_character_is_refused_by_the_contract(client: TestClient) -> None:
    response = client.post(f"{API}/projects", json={"name": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "#/name"


def test_a_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        f"{API}/projects", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


def test_an_undocumented_method_is_405_with_allow(client: TestClient) -> None:
    response = client.put(f"{API}/projects", json={"name": "x"})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    response = client.get(f"{API}/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


def test_the_request_id_is_echoed_when_well_formed_and_replaced_otherwise(
    client: TestClient,
) -> None:
    kept = client.get(f"{API}/livez", headers={"x-request-id": "trace-123"})
    assert kept.headers["x-request-id"] == "trace-123"
    replaced = client.get(f"{API}/livez", headers={"x-request-id": "bad id\t"})
    assert replaced.headers["x-request-id"] != "bad id\t"
    assert len(replaced.headers["x-request-id"]) == 32


def test_api_responses_are_not_cached_or_sniffed(client: TestClient) -> None:
    response = client.get(f"{API}/livez")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
