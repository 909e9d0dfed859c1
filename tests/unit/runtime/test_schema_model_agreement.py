"""The JSON Schema of each JSON request body and the model its adapter takes agree.

The runtime checks a body against the schema and then builds the adapter's model from it
(runtime.validation); if the model refused a body the schema accepts, the client would get a
second, different verdict. Schemathesis generates bodies from each spec, valid and invalid ones;
every one the schema accepts must build the model. Bounded in examples, so it stays cheap."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pydantic
import pytest
import schemathesis
from connexion.spec import Specification
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from runtime.contract import body_model
from runtime.validation import RequestBodySchemaValidator, compiled
from tests.unit.codegen.kit import generate, importable

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = 8


def _json_bodies(spec_path: Path, operations: dict[str, str]) -> list[tuple[str, Any, Any]]:
    """(operationId, Connexion's body schema, the adapter's model) per JSON-bodied operation."""
    resolved = Specification.load(spec_path)
    found = []
    for template, item in resolved["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            content = operation["requestBody"].get("content", {})
            media = next((m for m in content if m.endswith("json")), None)
            target = operations.get(operation.get("operationId", ""))
            if media is None or target is None:
                continue
            module, _, name = target.partition(":")
            model = body_model(getattr(importlib.import_module(module), name))
            if model is not None:
                found.append((f"{method.upper()} {template}", content[media]["schema"], model))
    return found


def _wire(body: Any) -> Any:
    """The body as the validator sees it: JSON text decoded by orjson."""
    return orjson.loads(json.dumps(body))


def _disagreements(spec_path: Path, operations: dict[str, str]) -> tuple[int, list[str]]:
    bodies = _json_bodies(spec_path, operations)
    assert bodies, f"{spec_path.name} has no JSON body with a declared model"
    # WHY: an explicit config, or from_path reads the repository's schemathesis.toml, which
    # needs the contract run's environment.
    schema = schemathesis.openapi.from_path(str(spec_path), config=SchemathesisConfig())
    checked, refused = 0, []
    for label, body_schema, model in bodies:
        validator = compiled(body_schema, RequestBodySchemaValidator)
        operation = schema[label.split(" ", 1)[1]][label.split(" ", 1)[0]]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases: list[Any] = []

            @given(operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                database=None,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def collect(case: Any) -> None:
                cases.append(case)  # noqa: B023 - consumed before the next loop turn

            collect()
            for case in cases:
                if not str(case.media_type or "").endswith("json") or isinstance(
                    case.body, bytes | str
                ):
                    continue
                try:
                    body = _wire(case.body)
                except (TypeError, ValueError):
                    continue  # not JSON on the wire: refused before validation
                if not validator.is_valid(body):
                    continue
                checked += 1
                try:
                    model.model_validate(body)
                except pydantic.ValidationError as exc:
                    refused.append(f"{label}: {body!r}: {exc.errors(include_url=False)}")
    return checked, refused


def test_the_reference_models_accept_every_body_the_schema_accepts() -> None:
    from app.modules.operations import OPERATIONS

    checked, refused = _disagreements(ROOT / "openapi.yaml", dict(OPERATIONS))
    assert checked >= EXAMPLES
    assert refused == []


@pytest.fixture(scope="module")
def coverage_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with importable(generate(tmp_path_factory.mktemp("agreement"), "coverage.yaml")) as root:
        yield root


def test_the_coverage_models_accept_every_body_the_schema_accepts(coverage_project: Path) -> None:
    operations = importlib.import_module("sample.api.operations").OPERATIONS
    checked, refused = _disagreements(coverage_project / "openapi.yaml", dict(operations))
    assert checked >= EXAMPLES
    assert refused == []
