from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import connexion
import pytest

from runtime.routing import OperationResolver, Registry, RegistryError, check_registry

SPEC = """openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things:
    get:
      operationId: listThings
      responses: {'200': {description: ok}}
    post:
      operationId: createThing
      responses: {'201': {description: ok}}
"""
BOTH = {
    "listThings": "tests.unit.runtime.test_routing:handler",
    "createThing": "tests.unit.runtime.test_routing:handler",
}


def handler() -> None:
    """A stand-in adapter."""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "openapi.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def registry(path: Path, operations: dict[str, str] = BOTH, digest: str | None = None) -> Registry:
    return Registry(
        spec_sha256=digest or hashlib.sha256(path.read_bytes()).hexdigest(),
        base_path="/api",
        operations=operations,
        routes={"listThings": ("GET", "/things"), "createThing": ("POST", "/things")},
        methods_by_path={"/things": ("GET", "HEAD", "POST")},
        policies={},
    )


def test_a_registry_of_this_spec_with_every_adapter_passes(spec: Path) -> None:
    check_registry(spec, registry(spec))


def test_a_registry_generated_from_another_spec_is_refused(spec: Path) -> None:
    with pytest.raises(RegistryError, match=r"another openapi\.yaml .*python -m codegen"):
        check_registry(spec, registry(spec, digest="0" * 64))


def test_an_operation_without_an_adapter_is_refused_by_name(spec: Path) -> None:
    with pytest.raises(RegistryError, match=r"POST /things \(createThing\) has no adapter"):
        check_registry(spec, registry(spec, {"listThings": BOTH["listThings"]}))


@pytest.mark.parametrize(
    "target", ["tests.unit.runtime.no_such_module:handler", "tests.unit.runtime.test_routing:nope"]
)
def test_an_adapter_that_does_not_import_is_refused(spec: Path, target: str) -> None:
    with pytest.raises(RegistryError, match="'createThing'"):
        check_registry(spec, registry(spec, {**BOTH, "createThing": target}))


def test_the_registry_answers_the_facts_the_runtime_builds_from(spec: Path) -> None:
    facts = registry(spec)
    assert facts.route_templates() == {"listThings": "/api/things", "createThing": "/api/things"}
    assert facts.methods() == ["GET", "HEAD", "POST"]
    assert (facts.operation_at("POST", "/things"), facts.operation_at("PUT", "/things")) == (
        "createThing",
        None,
    )


UNNAMED_SERVICE = """\
from __future__ import annotations

from .schemas import GetThings200, GetThingsRequest, GetThingsResponse


class ThingsServiceImpl:
    def get_things(self, request: GetThingsRequest, /) -> GetThingsResponse:
        return GetThings200()

    def create_thing(self, request: object, /) -> object:
        raise NotImplementedError


def get_service() -> ThingsServiceImpl:
    return ThingsServiceImpl()
"""


@pytest.fixture
def unnamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Any]]:
    """A project generated from a spec whose GET /things has no operationId, imported."""
    from tests.unit.codegen.kit import make_project, run

    root = make_project(tmp_path, "no_operation_id.yaml")
    assert run(root, "--package", "unnamed_ops.api").exit_code == 0
    (root / "unnamed_ops/api/things/service.py").write_text(UNNAMED_SERVICE)
    monkeypatch.syspath_prepend(str(root))
    yield root, importlib.import_module("unnamed_ops.api.operations")
    for name in [m for m in sys.modules if m.startswith("unnamed_ops")]:
        del sys.modules[name]


def test_an_operation_without_operation_id_is_served_under_the_name_codegen_gave_it(
    unnamed: tuple[Path, Any],
) -> None:
    root, module = unnamed
    generated = Registry.from_module(module)
    assert generated.routes["get_things"] == ("GET", "/things")
    spec = root / "openapi.yaml"
    check_registry(spec, generated)

    app = connexion.FlaskApp(__name__)
    app.add_api(spec, resolver=OperationResolver(generated), pythonic_params=False)
    response = app.test_client().get("/things")
    assert response.status_code == 200, response.text
