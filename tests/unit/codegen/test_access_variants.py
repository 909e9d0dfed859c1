"""readOnly/writeOnly variants at every depth, and ``format: byte`` as the wire's string."""

from __future__ import annotations

import base64
import importlib
import itertools
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from codegen import typemodel
from codegen.render.components import render_components
from tests.unit.codegen.kit import PYPROJECT, importable, run

REF = "#/components/schemas/"
_modules = itertools.count()


def _document(schemas: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.0.3", "paths": {}, "components": {"schemas": schemas}}


THING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "name": {"type": "string"},
        "secret": {"type": "string", "writeOnly": True},
        "parent": {"$ref": f"{REF}Thing"},
    },
}
SCHEMAS: dict[str, Any] = {
    "Thing": THING,
    # Reaches Thing only through an array: no readOnly property of its own.
    "Page": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": f"{REF}Thing"}}},
    },
    "Holder": {"type": "object", "properties": {"thing": {"$ref": f"{REF}Thing"}}},
    "Child": {
        "allOf": [
            {"$ref": f"{REF}Thing"},
            {"type": "object", "required": ["id"], "properties": {"age": {"type": "integer"}}},
        ]
    },
    "Plain": {"type": "object", "properties": {"n": {"type": "integer"}}},
}


@pytest.fixture(scope="module")
def model() -> typemodel.TypeModel:
    return typemodel.build(_document(SCHEMAS))


@pytest.fixture(scope="module")
def components(model: typemodel.TypeModel) -> Iterator[types.ModuleType]:
    code = render_components(model.document["components"]["schemas"], spec_name="t.yaml")
    module = types.ModuleType(f"_access_variants_{next(_modules)}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, module.__name__, "exec"), module.__dict__)
        yield module
    finally:
        del sys.modules[module.__name__]


def test_every_component_that_reaches_a_marked_property_has_named_variants(
    model: typemodel.TypeModel,
) -> None:
    reaching = {"Thing", "Page", "Holder", "Child"}
    assert model.variants == {
        "Request": {name: f"{name}Request" for name in SCHEMAS if name in reaching},
        "Response": {name: f"{name}Response" for name in SCHEMAS if name in reaching},
    }
    schemas = model.document["components"]["schemas"]
    assert list(schemas)[:3] == ["Thing", "ThingRequest", "ThingResponse"]
    assert "PlainRequest" not in schemas
    assert typemodel.build(_document(SCHEMAS)).document == model.document


def test_a_request_variant_refers_to_request_variants_at_every_depth(
    model: typemodel.TypeModel,
) -> None:
    schemas = model.document["components"]["schemas"]
    request = schemas["ThingRequest"]
    assert "id" not in request["properties"]
    assert request["required"] == ["name"]
    assert request["properties"]["parent"] == {"$ref": f"{REF}ThingRequest"}
    assert schemas["PageRequest"]["properties"]["items"]["items"] == {"$ref": f"{REF}ThingRequest"}
    assert schemas["HolderResponse"]["properties"]["thing"] == {"$ref": f"{REF}ThingResponse"}
    base, own = schemas["ChildRequest"]["allOf"]
    assert base == {"$ref": f"{REF}ThingRequest"}
    # The readOnly id the base leaves out is not required of the child either.
    assert "required" not in own


def test_the_generated_request_models_accept_nested_bodies_without_read_only_fields(
    components: types.ModuleType,
) -> None:
    page = components.PageRequest.model_validate(
        {"items": [{"name": "a", "parent": {"name": "b"}}]}
    )
    assert page.items[0].parent.name == "b"
    assert components.HolderRequest.model_validate({"thing": {"name": "a"}}).thing.name == "a"
    child = components.ChildRequest.model_validate({"name": "a", "age": 3})
    assert isinstance(child, components.ThingRequest)
    with pytest.raises(pydantic.ValidationError):
        components.Page.model_validate({"items": [{"name": "a"}]})


def test_the_generated_response_models_leave_write_only_fields_out_at_every_depth(
    components: types.ModuleType,
) -> None:
    page = components.PageResponse.model_validate({"items": [{"id": "1", "name": "a"}]})
    assert "secret" not in type(page.items[0]).model_fields
    with pytest.raises(pydantic.ValidationError):
        components.PageResponse.model_validate({"items": [{"id": "1", "name": "a", "secret": "s"}]})


def test_a_spec_component_named_like_a_nested_variant_gives_way_with_a_warning() -> None:
    model = typemodel.build(_document({**SCHEMAS, "PageRequest": {"type": "string"}}))
    schemas = model.document["components"]["schemas"]
    assert model.variants["Request"]["Page"] == "PageRequest"
    assert schemas["PageRequestSchema"] == {"type": "string"}
    assert any("'PageRequest' renamed 'PageRequestSchema'" in str(w) for w in model.warnings)


def test_a_discriminator_without_a_mapping_keeps_the_schema_names_as_its_values() -> None:
    model = typemodel.build(
        _document(
            {
                "Thing": THING,
                "Either": {
                    "oneOf": [{"$ref": f"{REF}Thing"}, {"$ref": f"{REF}Plain"}],
                    "discriminator": {"propertyName": "name"},
                },
                "Plain": {"type": "object", "properties": {"name": {"type": "string"}}},
            }
        )
    )
    request = model.document["components"]["schemas"]["EitherRequest"]
    assert request["oneOf"] == [{"$ref": f"{REF}ThingRequest"}, {"$ref": f"{REF}Plain"}]
    assert request["discriminator"]["mapping"] == {"Thing": f"{REF}ThingRequest"}


def test_a_byte_string_is_the_base64_text_as_received() -> None:
    code = render_components(
        {"Blob": {"type": "object", "properties": {"data": {"type": "string", "format": "byte"}}}},
        spec_name="t.yaml",
    )
    namespace: dict[str, Any] = {"__name__": "_byte_blob"}
    exec(compile(code, "_byte_blob", "exec"), namespace)
    blob = namespace["Blob"]
    # Not UTF-8 once decoded (Base64Str refuses it).
    wire = base64.b64encode(b"\xff\xfe\x00").decode()
    assert blob.model_validate({"data": wire}).model_dump(mode="json") == {"data": wire}
    # Not canonical (Base64Bytes would send back "/w=="), and the request validator, which
    # does not check `byte`, lets it through: the model does too.
    assert blob.model_validate({"data": "/w"}).model_dump(mode="json") == {"data": "/w"}


def _inline_bodies() -> dict[str, Any]:
    body = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string"},
            "secret": {"type": "string", "writeOnly": True},
            "tags": {"type": "array", "items": {"$ref": f"{REF}Thing"}},
        },
    }
    operation = {
        "operationId": "createItem",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "201": {"description": "Made.", "content": {"application/json": {"schema": body}}}
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "inline", "version": "1"},
        "paths": {"/items": {"post": operation}},
        "components": {"schemas": {"Thing": THING}},
    }


@pytest.fixture(scope="module")
def inline_schemas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[types.ModuleType]:
    root = Path(tmp_path_factory.mktemp("inline_bodies"))
    (root / "pyproject.toml").write_text(PYPROJECT)
    # JSON is YAML: the document as a dict, without a file of its own.
    (root / "openapi.yaml").write_text(json.dumps(_inline_bodies()))
    result = run(root)
    assert result.exit_code == 0, result.stderr
    with importable(root):
        yield importlib.import_module("sample.api.default.schemas")


def test_an_inline_body_leaves_out_what_its_direction_does_not_carry(
    inline_schemas: types.ModuleType,
) -> None:
    request = inline_schemas.CreateItemRequestBody
    assert _wire_names(request) == {"name", "secret", "tags"}
    body = request.model_validate({"name": "a", "tags": [{"name": "b"}]})
    assert body.tags[0].name == "b"
    response = inline_schemas.CreateItem201Body
    assert _wire_names(response) == {"id", "name", "tags"}
    assert response.model_fields["tags"].annotation == list[inline_schemas.ThingResponse] | None


def _wire_names(model: type[pydantic.BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_a_variant_gives_way_to_a_generated_type_of_an_operation() -> None:
    document = _document({"Thing": THING})
    document["paths"] = {
        "/t": {"post": {"operationId": "thing", "responses": {"204": {"description": "Done."}}}}
    }
    model = typemodel.build(document)
    # `thing` has a class ThingRequest of its own in its domain's schemas.py.
    assert model.variants["Request"] == {"Thing": "ThingRequestVariant"}
    assert "ThingRequest" not in model.document["components"]["schemas"]
    assert "a generated type of 'thing'" in str(model.warnings[0])
