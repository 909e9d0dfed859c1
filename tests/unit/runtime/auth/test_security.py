from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import connexion
import pytest
from connexion.resolver import Resolver
from starlette.testclient import TestClient

from runtime.auth import InvalidToken, Principal, TokenService, current_principal, security_map
from runtime.errors import PROBLEM_JSON, TYPE_BASE
from runtime.errors.handlers import install_error_handlers

SPEC = """
openapi: 3.0.3
info: {title: auth test, version: "1"}
paths:
  /me:
    get:
      operationId: whoami
      security: [{oauth: ["tasks:read"]}]
      responses:
        "200": {description: who, content: {application/json: {schema: {type: string}}}}
  /http-bearer:
    get:
      operationId: whoami_by_http_bearer
      security: [{bearer: []}]
      responses:
        "200": {description: who, content: {application/json: {schema: {type: string}}}}
  /public:
    get:
      operationId: anonymous
      security: []
      responses:
        "200": {description: nobody, content: {application/json: {schema: {type: boolean}}}}
components:
  securitySchemes:
    oauth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /token
          scopes: {"tasks:read": read tasks, "tasks:write": write tasks}
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
"""


def whoami() -> str:
    principal = current_principal()
    assert principal is not None
    return principal.subject


def anonymous() -> bool:
    return current_principal() is None


HANDLERS = {"whoami": whoami, "whoami_by_http_bearer": whoami, "anonymous": anonymous}


@pytest.fixture
def denied() -> set[str]:
    return set()


@pytest.fixture
def client(tmp_path: Path, service: TokenService, denied: set[str]) -> TestClient:
    def verify(token: str) -> Principal:
        principal = service.verify_access_token(token)
        if principal.token_id in denied:
            raise InvalidToken("revoked")
        return principal

    spec = tmp_path / "openapi.yaml"
    spec.write_text(SPEC)
    app = connexion.FlaskApp(__name__)
    # The runtime's own problem handlers, as in every app built by runtime.app.build_app.
    install_error_handlers(app)
    app.add_api(
        spec,
        security_map=security_map(verify),
        resolver=Resolver(function_resolver=HANDLERS.__getitem__),
    )
    client: TestClient = app.test_client()
    return client


def bearer(service: TokenService, *scopes: str) -> dict[str, str]:
    token = service.issue_access_token("user-1", scopes, now=int(time.time())).token
    return {"Authorization": f"Bearer {token}"}


def problem(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def test_a_valid_token_with_the_required_scope_reaches_the_handler_as_its_principal(
    client: TestClient, service: TokenService
) -> None:
    response = client.get("/me", headers=bearer(service, "tasks:read", "tasks:write"))
    assert response.status_code == 200
    assert response.json() == "user-1"


def test_an_http_bearer_scheme_uses_the_same_verification(
    client: TestClient, service: TokenService
) -> None:
    assert client.get("/http-bearer", headers=bearer(service)).json() == "user-1"
    assert client.get("/http-bearer", headers={"Authorization": "Bearer nope"}).status_code == 401


def unauthenticated(response: Any, challenge: str) -> dict[str, Any]:
    """The 401 problem with its RFC 6750 challenge; the body, for further checks."""
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["WWW-Authenticate"] == challenge
    body = problem(response)
    assert (body["status"], body["type"]) == (401, TYPE_BASE + "unauthenticated")
    return body


def test_no_authorization_header_is_a_401(client: TestClient) -> None:
    # No credentials sent: a bare challenge, without an error code (RFC 6750 §3.1).
    unauthenticated(client.get("/me"), "Bearer")


def test_basic_credentials_are_a_401(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    unauthenticated(response, 'Bearer error="invalid_token"')


def test_an_invalid_token_is_a_401_that_says_so_without_details(client: TestClient) -> None:
    response = client.get("/me", headers={"Authorization": "Bearer not.a.token"})
    body = unauthenticated(response, 'Bearer error="invalid_token"')
    assert body["detail"] == "The access token is invalid or expired."
    assert "malformed" not in response.text


def test_a_token_the_app_revoked_is_a_401(
    client: TestClient, service: TokenService, denied: set[str]
) -> None:
    issued = service.issue_access_token("user-1", ["tasks:read"])
    denied.add(issued.token_id)
    response = client.get("/me", headers={"Authorization": f"Bearer {issued.token}"})
    body = unauthenticated(response, 'Bearer error="invalid_token"')
    assert body["detail"] == "The access token is invalid or expired."
    assert "revoked" not in response.text


def test_a_valid_token_without_the_required_scope_is_a_403(
    client: TestClient, service: TokenService
) -> None:
    response = client.get("/me", headers=bearer(service, "tasks:write"))
    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    body = problem(response)
    assert (body["type"], body["status"]) == (TYPE_BASE + "forbidden", 403)
    assert body["detail"] == "The access token lacks a scope this operation needs."
    # The token's own scopes are not listed back.
    assert "tasks:write" not in response.text


def test_a_token_in_the_query_string_or_a_cookie_is_ignored(
    client: TestClient, service: TokenService
) -> None:
    token = bearer(service, "tasks:read")["Authorization"].removeprefix("Bearer ")
    unauthenticated(client.get("/me", params={"access_token": token}), "Bearer")
    client.cookies.set("access_token", token)
    unauthenticated(client.get("/me"), "Bearer")


def test_a_public_operation_has_no_current_principal(
    client: TestClient, service: TokenService
) -> None:
    assert client.get("/public").json() is True
    assert client.get("/public", headers=bearer(service, "tasks:read")).json() is True
