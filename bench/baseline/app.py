"""The hand-written Flask app: three routes, Pydantic validation, problem+json errors.

Served by gunicorn sync workers (``bench/baseline/gunicorn.conf.py``), as a good engineer would
write it without a contract-first framework: no per-request framework work beyond Flask's."""

from __future__ import annotations

from typing import TypeVar

import flask
from pydantic import BaseModel, ValidationError

from app.config import load_settings
from app.modules.components import ProjectCreate
from app.modules.projects.schemas import GetProjectPath, ListProjectsQuery
from bench.baseline.core import Services
from runtime.contract import pydantic_field_errors
from runtime.errors import (
    PROBLEM_JSON,
    MalformedRequest,
    Problem,
    ValidationProblem,
    problem_for_status,
)

JSON = "application/json"
M = TypeVar("M", bound=BaseModel)


def create_app() -> flask.Flask:
    services = Services.from_settings(load_settings())
    app = flask.Flask(__name__)

    @app.get("/api/v1/livez")
    def livez() -> flask.Response:
        return flask.Response(b'{"status":"ok"}', content_type=JSON)

    @app.get("/api/v1/projects/<project_id>")
    def get_project(project_id: str) -> flask.Response:
        caller = services.authenticate(flask.request.headers.get("Authorization"))
        path = validated(GetProjectPath, {"project_id": project_id}, "path")
        return flask.Response(services.get_project(path.project_id, caller), content_type=JSON)

    @app.get("/api/v1/projects")
    def list_projects() -> flask.Response:
        caller = services.authenticate(flask.request.headers.get("Authorization"))
        query = validated(ListProjectsQuery, flask.request.args.to_dict(), "query")
        body, link = services.list_projects(query, caller)
        response = flask.Response(body, content_type=JSON)
        if link:
            response.headers["Link"] = link
        return response

    @app.post("/api/v1/projects")
    def create_project() -> flask.Response:
        caller = services.authenticate(flask.request.headers.get("Authorization"))
        if flask.request.mimetype != JSON:
            raise problem_for_status(415, "The body must be application/json.")
        raw = flask.request.get_data(cache=False)
        if not raw:
            raise MalformedRequest("The request needs a JSON body.")
        body = validated_json(ProjectCreate, raw)
        payload, location = services.create_project(body, caller)
        return flask.Response(
            payload, status=201, content_type=JSON, headers={"Location": location}
        )

    @app.errorhandler(Problem)
    def problem(exc: Problem) -> flask.Response:
        response = flask.Response(
            exc.to_json(instance=flask.request.path),
            status=exc.status,
            content_type=PROBLEM_JSON,
            headers=exc.headers,
        )
        if exc.status == 401:
            sent = "Authorization" in flask.request.headers
            response.headers["WWW-Authenticate"] = (
                'Bearer error="invalid_token"' if sent else "Bearer"
            )
        return response

    return app


def validated(model: type[M], data: object, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValidationProblem(errors=pydantic_field_errors(exc, location=where)) from None


def validated_json(model: type[ProjectCreate], raw: bytes) -> ProjectCreate:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationProblem(errors=pydantic_field_errors(exc, location="body")) from None
