from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from runtime.routing import RegistryError, check_registry

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
