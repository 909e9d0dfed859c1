from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import connexion
import pytest

from runtime.routing import OperationResolver, RegistryError, check_registry, name_operations

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


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_registry_of_this_spec_with_every_adapter_passes(spec: Path) -> None:
    check_registry(spec, BOTH, sha(spec))


def test_a_registry_generated_from_another_spec_is_refused(spec: Path) -> None:
    with pytest.raises(RegistryError, match=r"another openapi\.yaml .*python -m codegen"):
        check_registry(spec, BOTH, "0" * 64)


def test_an_operation_without_an_adapter_is_refused_by_name(spec: Path) -> None:
    with pytest.raises(RegistryError, match=r"POST /things \(createThing\) has no adapter"):
        check_registry(spec, {"listThings": BOTH["listThings"]}, sha(spec))


@pytest.mark.parametrize(
    "target", ["tests.unit.runtime.no_such_module:handler", "tests.unit.runtime.test_routing:nope"]
)
def test_an_adapter_that_does_not_import_is_refused(spec: Path, target: str) -> None:
    with pytest.raises(RegistryError, match="'createThing'"):
        check_registry(spec, {**BOTH, "createThing": target}, sha(spec))


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
    root, registry = unnamed
    assert registry.DERIVED_OPERATION_IDS == {"GET /things": "get_things"}
    spec = root / "openapi.yaml"
    check_registry(spec, registry.OPERATIONS, sha(spec), registry.DERIVED_OPERATION_IDS)
    with pytest.raises(RegistryError, match=r"GET /things \(no operationId\) has no adapter"):
        check_registry(spec, registry.OPERATIONS, sha(spec))

    app = connexion.FlaskApp(__name__)
    resolver = OperationResolver(registry.OPERATIONS, registry.DERIVED_OPERATION_IDS)
    app.add_api(spec, resolver=resolver, pythonic_params=False)
    response = app.test_client().get("/things")
    assert response.status_code == 200, response.text


def test_the_spec_the_middleware_reads_names_unnamed_operations_as_the_registry_does() -> None:
    spec = {"paths": {"/a": {"get": {}, "post": {"operationId": "createA"}}}}
    named = name_operations(spec, {"GET /a": "get_a", "POST /a": "ignored"})
    assert named["paths"]["/a"] == {
        "get": {"operationId": "get_a"},
        "post": {"operationId": "createA"},
    }
