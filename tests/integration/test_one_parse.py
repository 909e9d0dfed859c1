"""A JSON body is decoded once and reaches the service as the model the validator built."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from app.modules.components import ProjectCreate
from app.modules.projects import service as projects

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
