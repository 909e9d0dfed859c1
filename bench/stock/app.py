"""Connexion's stock setup: ``FlaskApp`` + ``add_api(openapi.yaml)``, default options.

The handlers are the baseline's (``bench.baseline.core``); security uses Connexion's stock
OAuth handler with a token-info function (``TOKENINFO_FUNC=bench.stock.app.token_info``, which
``bench/run.py`` sets). None of the runtime's middleware, validators or error handling."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import connexion
import flask
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.resolver import Resolver

from app.config import load_settings
from app.modules.components import ProjectCreate
from app.modules.projects.schemas import ListProjectsQuery
from bench.baseline.core import Services
from runtime.auth import Principal
from runtime.errors import PROBLEM_JSON, Problem

ROOT = Path(__file__).resolve().parents[2]
JSON = "application/json"

_services: Services | None = None


def services() -> Services:
    assert _services is not None, "create_app() was not called"
    return _services


def token_info(token: str) -> dict[str, Any] | None:
    """Connexion's token-info contract: a dict with ``scope``, or None for an invalid token."""
    try:
        principal = services().verify(token)
    except Problem:
        return None
    return {"sub": principal.subject, "scope": " ".join(principal.scopes), "principal": principal}


def _caller() -> Principal:
    principal: Principal = connexion.context.context["token_info"]["principal"]
    return principal


def get_project(project_id: str) -> flask.Response:
    body = services().get_project(uuid.UUID(project_id), _caller())
    return flask.Response(body, content_type=JSON)


def list_projects(limit: int = 20, cursor: str | None = None) -> flask.Response:
    query = ListProjectsQuery.model_validate({"limit": limit, "cursor": cursor})
    body, link = services().list_projects(query, _caller())
    response = flask.Response(body, content_type=JSON)
    if link:
        response.headers["Link"] = link
    return response


def create_project(body: dict[str, Any]) -> flask.Response:
    payload, location = services().create_project(ProjectCreate.model_validate(body), _caller())
    return flask.Response(payload, status=201, content_type=JSON, headers={"Location": location})


def get_liveness() -> dict[str, str]:
    return {"status": "ok"}


def not_benchmarked(**_: Any) -> tuple[dict[str, str], int]:
    return {"detail": "not part of the benchmark"}, 501


HANDLERS: dict[str, Callable[..., Any]] = {
    "getProject": get_project,
    "listProjects": list_projects,
    "createProject": create_project,
    "getLiveness": get_liveness,
}


def problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, Problem)
    return ConnexionResponse(
        status_code=exc.status,
        content_type=PROBLEM_JSON,
        body=exc.to_json(instance=request.url.path),
        headers=exc.headers,
    )


def create_app() -> connexion.FlaskApp:
    global _services
    os.environ.setdefault("TOKENINFO_FUNC", f"{__name__}.token_info")
    _services = Services.from_settings(load_settings())
    app = connexion.FlaskApp(__name__, specification_dir=str(ROOT))
    app.add_api(
        "openapi.yaml",
        resolver=Resolver(function_resolver=lambda op_id: HANDLERS.get(op_id, not_benchmarked)),
    )
    app.add_error_handler(Problem, problem)
    return app
