"""The generated code of the small spec imports, parses requests and renders responses."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pytest

from runtime.errors import ValidationProblem
from tests.unit.codegen.kit import importable


@pytest.fixture(scope="module")
def widgets(generated: Path) -> Iterator[ModuleType]:
    """``sample.api.widgets.routes`` imported from the generated project."""
    with importable(generated):
        yield importlib.import_module("sample.api.widgets.routes")


class FakeWidgetsService:
    """Records the typed requests and answers with typed responses."""

    def __init__(self, schemas: ModuleType, components: ModuleType) -> None:
        self.schemas = schemas
        self.components = components
        self.requests: list[Any] = []

    def _widget(self, name: str) -> Any:
        return self.components.Widget(
            id=uuid.UUID(int=1),
            name=name,
            colour=self.components.Colour.red,
            created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        )

    def create_widget(self, request: Any, /) -> Any:
        self.requests.append(request)
        return self.schemas.CreateWidget201(
            body=self._widget(request.body.name),
            headers=self.schemas.CreateWidget201Headers(location="/widgets/1"),
        )

    def list_widgets(self, request: Any, /) -> Any:
        self.requests.append(request)
        return self.schemas.ListWidgets200(body=[self._widget("a")])

    def delete_widget(self, request: Any, /) -> Any:
        self.requests.append(request)
        return self.schemas.DeleteWidget204()


@pytest.fixture
def fake(widgets: ModuleType, monkeypatch: pytest.MonkeyPatch) -> FakeWidgetsService:
    schemas = importlib.import_module("sample.api.widgets.schemas")
    components = importlib.import_module("sample.api.components")
    service = FakeWidgetsService(schemas, components)
    monkeypatch.setattr(widgets.service, "get_service", lambda: service)
    return service


def test_a_created_widget_renders_201_with_location_and_json_body(
    widgets: ModuleType, fake: FakeWidgetsService
) -> None:
    with flask.Flask(__name__).test_request_context(method="POST"):
        response = widgets.create_widget(body={"name": "gear", "colour": "green"})
    assert response.status_code == 201
    assert response.headers["Location"] == "/widgets/1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["name"] == "gear"
    (request,) = fake.requests
    assert request.body.colour.value == "green"


def test_query_header_and_cookie_parameters_arrive_typed(
    widgets: ModuleType, fake: FakeWidgetsService
) -> None:
    context = flask.Flask(__name__).test_request_context(
        headers={"X-Trace-Id": "trace-1", "Cookie": "session=abc"}
    )
    with context:
        response = widgets.list_widgets(limit="5", colour="blue")
    assert response.status_code == 200
    assert response.get_json()[0]["created_at"] == "2026-01-02T03:04:05Z"
    (request,) = fake.requests
    assert request.query.limit == 5
    assert request.query.colour.value == "blue"
    assert request.header.x_trace_id == "trace-1"
    assert request.cookie.session == "abc"


def test_a_204_has_no_body_and_no_content_type(
    widgets: ModuleType, fake: FakeWidgetsService
) -> None:
    with flask.Flask(__name__).test_request_context(method="DELETE"):
        response = widgets.delete_widget(widget_id=str(uuid.UUID(int=7)))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert fake.requests[0].path.widget_id == uuid.UUID(int=7)


def test_a_body_the_models_reject_is_a_validation_problem_naming_the_field(
    widgets: ModuleType, fake: FakeWidgetsService
) -> None:
    with (
        flask.Flask(__name__).test_request_context(method="POST"),
        pytest.raises(ValidationProblem) as caught,
    ):
        widgets.create_widget(body={"name": "", "colour": "green"})
    assert [e.pointer for e in caught.value.errors] == ["#/name"]
    assert fake.requests == []
