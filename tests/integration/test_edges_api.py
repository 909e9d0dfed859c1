"""Edges a client meets before any handler: redirects, odd paths and chunked bodies."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.testclient import TestClient

from tests.integration.conftest import API

PROBLEM = "application/problem+json"


def test_a_trailing_slash_redirect_stays_on_the_origin_whatever_the_host_header(
    client: TestClient,
) -> None:
    response = client.get(
        f"{API}/projects/", headers={"host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == f"{API}/projects"


def test_a_doubled_slash_is_a_404_problem_not_a_redirect(client: TestClient) -> None:
    response = client.get(f"{API}//projects", headers={"host": "evil.example"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "location" not in response.headers
    assert "evil.example" not in response.text


def chunks(*parts: bytes) -> Iterator[bytes]:
    yield from parts


def test_a_small_chunked_body_is_read_and_created(client: TestClient) -> None:
    response = client.post(
        f"{API}/projects",
        content=chunks(b'{"name": ', b'"Chunked"}'),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Chunked"


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    megabyte = b" " * (1024 * 1024)
    response = client.post(
        f"{API}/projects",
        content=chunks(b'{"name": "x"', *(megabyte for _ in range(20)), b"}"),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["type"].endswith("/content-too-large")


def test_a_malformed_e_mail_is_explained_in_words_not_as_a_regular_expression(
    anonymous: TestClient,
) -> None:
    response = anonymous.post(
        f"{API}/auth/register", json={"email": "no at sign", "password": "x" * 16}
    )
    assert response.status_code == 400
    errors = {e["pointer"]: e["detail"] for e in response.json()["errors"]}
    assert errors == {"#/email": "must be an e-mail address such as name@example.com"}
