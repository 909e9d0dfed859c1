"""A JSON body is decoded once and reaches the service as the model the validator built; the
caller, resolved once, is in the handler's log lines."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from app.modules.components import ProjectCreate
from app.modules.projects import service as projects
from tests.integration.conftest import register_and_login

API = "/api/v1"


def test_a_json_body_is_decoded_once_and_handed_on_as_its_model(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes] = []
    real_loads = orjson.loads

    def counting_loads(data: Any) -> Any:
        decoded.append(bytes(data))
        return real_loads(data)

    monkeypatch.setattr(orjson, "loads", counting_loads)
    received: list[object] = []
    real_service = projects.get_service

    class Recording:
        def __getattr__(self, name: str) -> Any:
            handler = getattr(real_service(), name)

            def record(request: Any, /) -> Any:
                received.append(request.body)
                return handler(request)

            return record

    monkeypatch.setattr(projects, "get_service", Recording)
    body = {"name": "Relaunch", "description": "once"}

    response = client.post(f"{API}/projects", json=body)

    assert response.status_code == 201, response.text
    assert [real_loads(raw) for raw in decoded] == [body]
    assert received == [ProjectCreate(name="Relaunch", description="once")]


def test_a_line_written_on_the_handler_thread_names_the_operation_and_caller(
    anonymous: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    user = register_and_login(anonymous)
    capsys.readouterr()
    # The revocation cache is cold in a fresh Redis: the first check reloads it and says so.
    response = anonymous.get(f"{API}/projects", headers=user["headers"])
    assert response.status_code == 200
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    (loaded,) = [line for line in lines if line["event"] == "revocation_cache_loaded"]
    assert loaded["operation"] == "listProjects"
    assert loaded["user_id"] == user["id"]
