from __future__ import annotations

from pathlib import Path
from typing import Any

import connexion.decorators.parameter as connexion_parameter
import flask
import pytest
from starlette.testclient import TestClient

from runtime.flask_app import RuntimeFlaskApp
from runtime.wsgi import BufferedWSGI

SPEC = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /items/{item_id}:
    get:
      operationId: get_item
      parameters:
        - {name: item_id, in: path, required: true, schema: {type: integer}}
        - {name: limit, in: query, schema: {type: integer, default: 20}}
        - {name: tags, in: query, style: form, explode: false,
           schema: {type: array, items: {type: string}}}
      responses: {"200": {description: ok}}
  /items:
    post:
      operationId: create_item
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, properties: {name: {type: string}}}
      responses: {"201": {description: created}}
  /uploads:
    post:
      operationId: upload
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                caption: {type: string}
                file: {type: string, format: binary}
      responses: {"201": {description: created}}
"""

calls: list[dict[str, Any]] = []


def get_item(**params: Any) -> flask.Response:
    calls.append(params)
    return flask.Response("{}", content_type="application/json")


def create_item(**params: Any) -> flask.Response:
    calls.append(params)
    return flask.Response("{}", status=201, content_type="application/json")


def upload(**params: Any) -> flask.Response:
    calls.append({**params, "file": params["file"].read()})
    return flask.Response("{}", status=201, content_type="application/json")


def build(tmp_path: Path, dispatch: Any) -> RuntimeFlaskApp:
    (tmp_path / "spec.yaml").write_text(SPEC)
    app = RuntimeFlaskApp(__name__, specification_dir=str(tmp_path), dispatch=dispatch)
    app.add_api(
        "spec.yaml",
        resolver=lambda operation_id: globals()[operation_id],
        strict_validation=True,
    )
    return app


@pytest.fixture(autouse=True)
def _clear() -> None:
    calls.clear()


@pytest.mark.parametrize("dispatch", ["inline", "thread", None])
def test_handlers_get_connexions_coerced_arguments(tmp_path: Path, dispatch: Any) -> None:
    with TestClient(build(tmp_path, dispatch)) as client:
        assert client.get("/items/7?tags=a,b").status_code == 200
        assert client.get("/items/8?limit=5").status_code == 200
        assert client.post("/items", json={"name": "x"}).status_code == 201

    assert calls[0] == {"item_id": 7, "limit": 20, "tags": ["a", "b"]}
    assert calls[1] == {"item_id": 8, "limit": 5}
    assert calls[2] == {"body": {"name": "x"}}


# WHY: Connexion's form validator leaves Starlette's spooled upload file unclosed (stock
# connexion.FlaskApp warns the same); the file the handler gets is Flask's, closed by Flask.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_multipart_body_still_brings_its_files(tmp_path: Path) -> None:
    with TestClient(build(tmp_path, "thread")) as client:
        sent = {"file": ("a.png", b"\x89PNG")}
        assert client.post("/uploads", data={"caption": "hi"}, files=sent).status_code == 201

    assert calls == [{"body": {"caption": "hi"}, "file": b"\x89PNG"}]


def test_each_operation_inspects_its_handler_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inspected: list[str] = []
    original = connexion_parameter.inspect_function_arguments

    def counting(function: Any) -> Any:
        inspected.append(function.__name__)
        return original(function)

    monkeypatch.setattr(connexion_parameter, "inspect_function_arguments", counting)
    with TestClient(build(tmp_path, "inline")) as client:
        for n in range(5):
            assert client.get(f"/items/{n}").status_code == 200

    assert inspected == ["get_item"]
    assert [call["item_id"] for call in calls] == [0, 1, 2, 3, 4]


def test_dispatch_chooses_the_wsgi_bridge(tmp_path: Path) -> None:
    buffered = build(tmp_path, "inline")._middleware_app.asgi_app
    stock = build(tmp_path, None)._middleware_app.asgi_app

    assert isinstance(buffered, BufferedWSGI)
    assert buffered.dispatch == "inline"
    assert not isinstance(stock, BufferedWSGI)


def test_a_json_body_in_a_declared_utf16_charset_reaches_the_handler(tmp_path: Path) -> None:
    body = '{"name": "é"}'.encode("utf-16")
    headers = {"content-type": "application/json;charset=utf-16"}
    with TestClient(build(tmp_path, "thread")) as client:
        assert client.post("/items", content=body, headers=headers).status_code == 201

    assert calls == [{"body": {"name": "é"}}]
