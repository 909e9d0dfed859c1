"""How ``scripts/codegen_corpus.py`` judges a document, on small inputs.

The corpus run itself (every document through codegen, ruff, mypy and datamodel-code-generator)
takes minutes: it is `nox -s corpus`."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.codegen.kit import PACKAGE_DIR, REPO, make_project, run


@pytest.fixture(scope="module")
def corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "codegen_corpus", REPO / "scripts/codegen_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # WHY: dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_scratch_project_is_judged_by_the_repository_s_own_ruff_and_mypy_settings(
    corpus: ModuleType,
) -> None:
    ours = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]
    scratch = tomllib.loads(corpus.project_config((REPO / "pyproject.toml").read_text()))["tool"]
    assert scratch["codegen"] == {"spec": "openapi.yaml", "package": "gen.api"}
    assert scratch["ruff"]["lint"]["select"] == ours["ruff"]["lint"]["select"]
    assert scratch["ruff"]["line-length"] == ours["ruff"]["line-length"]
    assert scratch["ruff"]["lint"]["isort"]["known-first-party"] == ["gen", "runtime"]
    assert scratch["mypy"]["strict"] is True
    assert scratch["mypy"]["plugins"] == ["pydantic.mypy"]
    assert "packages" not in scratch["mypy"]
    assert scratch["pydantic-mypy"] == ours["pydantic-mypy"]
    assert "bandit" not in scratch and "coverage" not in scratch


DOCUMENT: dict[str, Any] = {
    "paths": {
        "/orders": {
            "post": {
                "operationId": "createOrder",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "properties": {"note": {"type": "string"}}}
                        }
                    }
                },
                "responses": {"204": {"description": "Created."}},
            }
        }
    },
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "customer": {"type": "object", "properties": {"name": {"type": "string"}}},
                    "lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    "metadata": {"type": "object", "additionalProperties": {}},
                },
            },
            "Line": {"type": "object", "properties": {"sku": {"type": "string"}}},
            "order-status": {"type": "string", "enum": ["open", "paid"]},
        }
    },
}
GENERATED = """
from typing import Any
from pydantic import BaseModel, Field


class Order(BaseModel):
    id: str | None = None
    customer: dict[str, Any] | None = None
    lines_: list[Any] | None = Field(None, alias="lines")
    metadata: dict[str, Any] | None = None


class Line(BaseModel):
    sku: str


class Type1(BaseModel):
    value: str


class Status(BaseModel):
    code: int


class Status2(BaseModel):
    code: int


class GetOrder404(BaseModel):
    detail: str


class CreateOrderRequest(BaseModel):
    body: dict[str, Any]
"""


def test_fields_left_any_are_counted_only_where_the_spec_gave_properties(
    corpus: ModuleType,
) -> None:
    judged = corpus.judge_models([GENERATED], DOCUMENT)
    # customer (inline properties), lines (items by $ref) and the request body lost their
    # types; metadata is a free-form map in the spec too.
    assert judged.untyped_with_properties == 3
    assert judged.examples == ["Order.customer", "Order.lines", "CreateOrderRequest.body"]
    assert judged.typed == 6
    assert judged.numbered == 2  # Type1, and Status2 beside Status; GetOrder404 is a status
    assert judged.renamed == 1  # order-status has no class of its name


def test_the_small_document_generates_typed_with_chosen_names(
    corpus: ModuleType, tmp_path: Path
) -> None:
    root = make_project(tmp_path, "small.yaml")
    assert run(root).exit_code == 0
    sources = [p.read_text() for p in sorted((root / PACKAGE_DIR).rglob("*.py"))]
    from codegen.document import load

    judged = corpus.judge_models(sources, load(root / "openapi.yaml").data)
    assert judged.typed > 10
    assert (judged.untyped_with_properties, judged.numbered, judged.renamed) == (0, 0, 0)


def test_a_number_the_spec_itself_put_in_a_name_is_not_counted_as_ours(
    corpus: ModuleType,
) -> None:
    document = {
        **DOCUMENT,
        "components": {
            "schemas": {
                **DOCUMENT["components"]["schemas"],
                "Status": {"type": "object", "properties": {"code": {"type": "integer"}}},
                "Status-2": {"type": "object", "properties": {"code": {"type": "integer"}}},
            }
        },
    }
    judged = corpus.judge_models([GENERATED], document)
    assert (judged.numbered, judged.numbered_in_spec) == (1, 1)  # Type1; Status2 is the spec's


def test_a_free_form_field_is_not_counted_for_another_schema_with_the_same_property_names(
    corpus: ModuleType,
) -> None:
    free = {"type": "object", "nullable": True}
    typed = {"type": "object", "properties": {"id": {"type": "string"}}}
    document: dict[str, Any] = {
        "paths": {
            "/links": {
                "put": {
                    "operationId": "removeLink",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"link": free}}
                            }
                        }
                    },
                    "responses": {"204": {"description": "Removed."}},
                }
            }
        },
        "components": {
            "schemas": {
                "Wrapped": {"type": "object", "properties": {"response": typed, "client": typed}},
                "Client.Deleted": {
                    "type": "object",
                    "properties": {"response": typed, "client": free},
                },
                "AddLink": {"type": "object", "properties": {"link": typed}},
                "Page": {"type": "object", "properties": {"data": typed}},
                "Listing": {"type": "object", "properties": {"data": free}},
            }
        },
    }
    generated = """
from typing import Any
from pydantic import BaseModel


class ClientDeleted(BaseModel):
    response: Wrapped | None = None
    client: dict[str, Any] | None = None


class RemoveLinkRequestBody(BaseModel):
    link: dict[str, Any] | None = None


class ListingData(BaseModel):
    data: dict[str, Any] | None = None


class AddLink(BaseModel):
    link: dict[str, Any] | None = None
"""
    judged = corpus.judge_models([generated], document)
    # The class a component or an inline body is named after is judged by that schema; a
    # lifted class matched by its fields' names alone counts only when no candidate is
    # free-form there. AddLink.link did lose its properties.
    assert judged.examples == ["AddLink.link"]
    assert judged.untyped_with_properties == 1


def test_the_body_of_an_operation_without_operation_id_is_judged_too(
    corpus: ModuleType, tmp_path: Path
) -> None:
    spec = tmp_path / "openapi.json"
    body = {"properties": {"id": {"type": "string"}}}
    created = {"description": "Created.", "content": {"application/json": {"schema": body}}}
    spec.write_text(
        json.dumps(
            {
                "openapi": "3.0.3",
                "info": {"title": "t", "version": "1"},
                "paths": {"/streams": {"post": {"responses": {"201": created}}}},
            }
        )
    )
    generated = """
from typing import Any
from runtime.contract import ApiResponse


class PostStreams201(ApiResponse):
    body: dict[str, Any]
"""
    # codegen names the operation post_streams, and so its classes.
    judged = corpus.judge_models([generated], corpus._load(spec))
    assert judged.examples == ["PostStreams201.body"]
