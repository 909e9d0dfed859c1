from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runtime.routing import Registry, RegistryError, check_registry

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
