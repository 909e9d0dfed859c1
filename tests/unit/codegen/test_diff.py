"""The breaking-change gate, rule by rule: each change in both directions, in requests and in
responses, at the top of a schema, nested, and inside array ``items``."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.checks.diff import Change, compare, gate, load_document, major
from codegen.errors import ConfigError

JSON = "application/json"


def content(schema: dict[str, Any]) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


BASE: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Items", "version": "1.2.0"},
    "paths": {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getItem",
                "parameters": [
                    {"$ref": "#/components/parameters/Q"},
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                ],
                "security": [{"oauth": ["read"]}],
                "responses": {
                    "200": {
                        "description": "the item",
                        "content": content({"$ref": "#/components/schemas/Item"}),
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                },
            },
            "put": {
                "operationId": "putItem",
                "requestBody": {"content": content({"$ref": "#/components/schemas/ItemIn"})},
                "responses": {"204": {"description": "replaced"}},
            },
        },
        "/items": {
            "post": {
                "operationId": "addItem",
                "requestBody": {
                    "required": True,
                    "content": content({"$ref": "#/components/schemas/ItemIn"}),
                },
                "security": [{"oauth": ["write"]}, {"key": []}],
                "responses": {"201": {"description": "added", "content": content({})}},
            },
        },
    },
    "components": {
        "parameters": {"Q": {"name": "q", "in": "query", "schema": {"type": "string"}}},
        "responses": {
            "NotFound": {
                "description": "no such item",
                "content": {
                    "application/problem+json": {
                        "schema": {"type": "object", "properties": {"title": {"type": "string"}}}
                    }
                },
            }
        },
        "schemas": {
            "Item": {
                "type": "object",
                "required": ["id", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": ["open", "done"]},
                    "note": {"type": "string"},
                    "tags": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": {"type": "string"}},
                        },
                    },
                    "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                },
            },
            "ItemIn": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "size": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["x", "y"]},
                    "note": {"type": "string", "nullable": True},
                    "nested": {"type": "object", "properties": {"depth": {"type": "integer"}}},
                    "tags": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                    "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "any": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "all": {"allOf": [{"type": "object"}, {"type": "object"}]},
                },
            },
        },
    },
}

Edit = Callable[[dict[str, Any]], object]
Triple = tuple[str, str, bool]


def spec() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def item(doc: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"]["Item"]
    return schema


def item_in(doc: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = doc["components"]["schemas"]["ItemIn"]
    return schema


def diff(edit: Edit, *, reverse: bool = False) -> list[Triple]:
    """The changes from BASE to BASE-with-``edit`` (or back, with ``reverse``)."""
    old, new = spec(), spec()
    edit(new)
    if reverse:
        old, new = new, old
    return [(c.where, c.message, c.breaking) for c in compare(old, new)]


def silent_both_ways(edit: Edit) -> bool:
    return diff(edit) == [] and diff(edit, reverse=True) == []


GET = "GET /items/{id}"
PUT = "PUT /items/{id}"
POST = "POST /items"
BODY = f"{PUT} request body"
POST_BODY = f"{POST} request body"
OK = f"{GET} response 200"


def in_body(where: str, message: str, breaking: bool = True) -> list[Triple]:
    # compare() walks operations sorted by (path, method): POST /items, GET and PUT /items/{id}.
    return [(where.replace(BODY, POST_BODY), message, breaking), (where, message, breaking)]


def test_identical_documents_have_no_changes() -> None:
    assert compare(spec(), spec()) == []
    assert gate(spec(), spec()) == ([], True)


# --- operations ---------------------------------------------------------------------------


def test_an_operation_removed_is_breaking_and_one_added_is_not() -> None:
    def drop(doc: dict[str, Any]) -> object:
        return doc["paths"]["/items/{id}"].pop("put")

    assert diff(drop) == [(PUT, "operation removed", True)]
    assert diff(drop, reverse=True) == [(PUT, "operation added", False)]


def test_removed_and_added_operations_are_listed_in_path_then_method_order() -> None:
    def drop(doc: dict[str, Any]) -> object:
        return doc["paths"].pop("/items/{id}")

    assert diff(drop) == [(GET, "operation removed", True), (PUT, "operation removed", True)]
    assert diff(drop, reverse=True) == [
        (GET, "operation added", False),
        (PUT, "operation added", False),
    ]


def test_renaming_a_path_parameter_changes_nothing() -> None:
    def rename(doc: dict[str, Any]) -> None:
        path_item = doc["paths"].pop("/items/{id}")
        path_item["parameters"][0]["name"] = "item_id"
        doc["paths"]["/items/{item_id}"] = path_item

    assert diff(rename) == []


# --- parameters ---------------------------------------------------------------------------


def test_a_parameter_removed_is_breaking_and_an_optional_one_added_is_not() -> None:
    def drop(doc: dict[str, Any]) -> object:
        return doc["paths"]["/items/{id}"]["get"]["parameters"].pop(0)

    assert diff(drop) == [(GET, "query parameter 'q' removed", True)]
    assert diff(drop, reverse=True) == [(GET, "optional query parameter 'q' added", False)]


def test_a_required_parameter_added_is_breaking() -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["get"]["parameters"].append(
            {"name": "X-Tenant", "in": "header", "required": True}
        )

    assert diff(add) == [(GET, "required header parameter 'X-Tenant' added", True)]
    assert diff(add, reverse=True) == [(GET, "header parameter 'X-Tenant' removed", True)]


def test_a_path_parameter_added_is_required_whatever_it_says() -> None:
    def add(doc: dict[str, Any]) -> None:
        doc["paths"]["/items"]["post"]["parameters"] = [{"name": "tenant", "in": "path"}]

    assert diff(add) == [(POST, "required path parameter 'tenant' added", True)]


def test_a_parameter_that_became_required_is_breaking_and_the_reverse_is_not() -> None:
    def require(doc: dict[str, Any]) -> None:
        doc["components"]["parameters"]["Q"]["required"] = True

    assert diff(require) == [(GET, "query parameter 'q' became required", True)]
    assert diff(require, reverse=True) == []


def test_header_names_compare_without_case_and_parameters_move_freely() -> None:
    def recase(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["get"]["parameters"][1]["name"] = "x-trace"

    def move(doc: dict[str, Any]) -> None:
        path_item = doc["paths"]["/items/{id}"]
        shared = path_item.pop("parameters")
        path_item["get"]["parameters"] += shared
        path_item["put"]["parameters"] = shared

    assert diff(recase) == []
    assert diff(move) == []


def test_a_parameter_schema_is_compared_as_a_request() -> None:
    def retype(doc: dict[str, Any]) -> None:
        doc["components"]["parameters"]["Q"]["schema"] = {"type": "integer"}

    def narrow(doc: dict[str, Any]) -> None:
        doc["components"]["parameters"]["Q"]["schema"]["maxLength"] = 5

    where = f"{GET} query parameter 'q'"
    assert diff(retype) == [(where, "type changed from string to integer", True)]
    assert diff(narrow) == [(where, "maxLength narrowed to 5", True)]
    assert diff(narrow, reverse=True) == []


# --- request bodies -----------------------------------------------------------------------


def test_a_required_request_body_added_is_breaking_an_optional_one_is_not() -> None:
    def add(required: bool) -> Edit:
        def edit(doc: dict[str, Any]) -> None:
            body = {"required": required, "content": content({"type": "object"})}
            doc["paths"]["/items/{id}"]["get"]["requestBody"] = body

        return edit

    assert diff(add(True)) == [(GET, "a required request body was added", True)]
    assert diff(add(False)) == []
    assert diff(add(True), reverse=True) == []


def test_a_request_body_that_became_required_is_breaking_and_the_reverse_is_not() -> None:
    def require(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["put"]["requestBody"]["required"] = True

    assert diff(require) == [(PUT, "the request body became required", True)]
    assert diff(require, reverse=True) == []


def test_a_request_content_type_removed_is_breaking_and_one_added_is_not() -> None:
    def add_xml(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["put"]["requestBody"]["content"]["application/xml"] = {}

    assert diff(add_xml) == []
    assert diff(add_xml, reverse=True) == [
        (PUT, "request content type 'application/xml' removed", True)
    ]


# --- responses ----------------------------------------------------------------------------


def test_a_response_removed_is_breaking_and_one_added_is_not() -> None:
    def drop(doc: dict[str, Any]) -> object:
        return doc["paths"]["/items/{id}"]["get"]["responses"].pop("404")

    assert diff(drop) == [(GET, "response 404 removed", True)]
    assert diff(drop, reverse=True) == [(GET, "response 404 added", False)]


def test_status_codes_compare_as_text_whether_yaml_gave_numbers_or_strings() -> None:
    def numbers(doc: dict[str, Any]) -> None:
        responses = doc["paths"]["/items/{id}"]["get"]["responses"]
        doc["paths"]["/items/{id}"]["get"]["responses"] = {int(k): v for k, v in responses.items()}

    assert diff(numbers) == []


def test_a_response_content_type_removed_is_breaking_and_one_added_is_not() -> None:
    def add_xml(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["get"]["responses"]["200"]["content"]["application/xml"] = {}

    assert diff(add_xml) == []
    assert diff(add_xml, reverse=True) == [
        (GET, "response 200 content type 'application/xml' removed", True)
    ]


def test_a_referenced_response_is_compared_through_its_reference() -> None:
    def drop(doc: dict[str, Any]) -> object:
        problem = doc["components"]["responses"]["NotFound"]["content"]["application/problem+json"]
        return problem["schema"]["properties"].pop("title")

    assert diff(drop) == [(f"{GET} response 404", "property 'title' removed", True)]


# --- security -----------------------------------------------------------------------------


def test_security_added_is_breaking_and_removed_is_not() -> None:
    def secure(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["put"]["security"] = [{"key": []}]

    assert diff(secure) == [(PUT, "security added: the operation needs credentials now", True)]
    assert diff(secure, reverse=True) == [
        (PUT, "security removed: the operation became public", False)
    ]


def test_document_security_applies_to_operations_without_their_own() -> None:
    def secure(doc: dict[str, Any]) -> None:
        doc["security"] = [{"key": []}]

    def opt_out(doc: dict[str, Any]) -> None:
        doc["security"] = [{"key": []}]
        doc["paths"]["/items/{id}"]["put"]["security"] = []

    assert diff(secure) == [(PUT, "security added: the operation needs credentials now", True)]
    assert diff(opt_out) == []


def test_a_scope_added_tightens_and_a_scope_removed_loosens() -> None:
    def more_scopes(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["get"]["security"] = [{"oauth": ["read", "admin"]}]

    assert diff(more_scopes) == [
        (GET, "security tightened: more schemes or scopes are required", True)
    ]
    assert diff(more_scopes, reverse=True) == [(GET, "security loosened", False)]


def test_an_alternative_removed_tightens_and_one_added_loosens() -> None:
    def fewer(doc: dict[str, Any]) -> object:
        return doc["paths"]["/items"]["post"]["security"].pop(1)

    def another_scheme(doc: dict[str, Any]) -> None:
        doc["paths"]["/items"]["post"]["security"][1] = {"key": [], "mtls": []}

    tightened = (POST, "security tightened: more schemes or scopes are required", True)
    assert diff(fewer) == [tightened]
    assert diff(fewer, reverse=True) == [(POST, "security loosened", False)]
    assert diff(another_scheme) == [tightened]


# --- schemas: the rules of what a client sends ---------------------------------------------


def test_a_type_changed_is_breaking_both_ways_and_reported_once() -> None:
    def retype(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["size"] = {"type": "string", "maxLength": 1}

    assert diff(retype) == in_body(f"{BODY}.size", "type changed from integer to string")
    assert diff(retype, reverse=True) == in_body(
        f"{BODY}.size", "type changed from string to integer"
    )


def test_a_type_given_where_there_was_none_is_not_a_change_of_type() -> None:
    def untyped(doc: dict[str, Any]) -> None:
        del item_in(doc)["properties"]["size"]["type"]

    assert silent_both_ways(untyped)


def test_a_format_added_or_changed_is_breaking_and_removed_is_not() -> None:
    def add(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["name"]["format"] = "email"

    def change(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["name"]["format"] = "uri"

    assert diff(add) == in_body(f"{BODY}.name", "format changed from None to email")
    assert diff(add, reverse=True) == []
    old, new = spec(), spec()
    add(old)
    change(new)
    assert [(c.where, c.message) for c in compare(old, new) if c.breaking] == [
        (f"{POST_BODY}.name", "format changed from email to uri"),
        (f"{BODY}.name", "format changed from email to uri"),
    ]


@pytest.mark.parametrize(
    ("bounds", "before", "after"),
    [
        ((0, 100), None, "int32"),
        ((-(2**31), 2**31 - 1), None, "int32"),
        ((-(2**63), 2**63 - 1), None, "int64"),
        ((0, 100), "int64", "int32"),
        ((0, 100), "int32", "int64"),
    ],
)
def test_an_integer_format_the_bounds_already_kept_is_not_breaking(
    bounds: tuple[int, int], before: str | None, after: str
) -> None:
    def bounded(doc: dict[str, Any], fmt: str | None) -> None:
        size = item_in(doc)["properties"]["size"]
        size.update(minimum=bounds[0], maximum=bounds[1])
        if fmt:
            size["format"] = fmt

    old, new = spec(), spec()
    bounded(old, before)
    bounded(new, after)
    message = (
        f"format changed from {before} to {after}; the bounds already kept the values inside it"
    )
    assert [(c.where, c.message, c.breaking) for c in compare(old, new)] == in_body(
        f"{BODY}.size", message, False
    )


def test_a_format_without_an_integer_range_is_breaking_even_on_a_bounded_number() -> None:
    def bounded(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["size"].update(type="number", minimum=0, maximum=100)

    def single(doc: dict[str, Any]) -> None:
        bounded(doc)
        item_in(doc)["properties"]["size"]["format"] = "float"

    old, new = spec(), spec()
    bounded(old)
    single(new)
    assert [(c.where, c.message, c.breaking) for c in compare(old, new)] == in_body(
        f"{BODY}.size", "format changed from None to float"
    )


@pytest.mark.parametrize(
    ("bounds", "fmt"),
    [
        ({"minimum": 0}, "int32"),
        ({"minimum": 0, "maximum": 2**31}, "int32"),
        ({"minimum": -(2**31) - 1, "maximum": 0}, "int32"),
        ({}, "int64"),
    ],
)
def test_an_integer_format_that_cuts_the_values_is_breaking(
    bounds: dict[str, int], fmt: str
) -> None:
    def add(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["size"].update(bounds)

    def narrow(doc: dict[str, Any]) -> None:
        add(doc)
        item_in(doc)["properties"]["size"]["format"] = fmt

    old, new = spec(), spec()
    add(old)
    narrow(new)
    assert [(c.where, c.message, c.breaking) for c in compare(old, new)] == in_body(
        f"{BODY}.size", f"format changed from None to {fmt}"
    )


@pytest.mark.parametrize(("length", "breaking"), [(36, False), (64, False), (35, True)])
def test_a_max_length_on_a_uuid_is_breaking_only_below_a_uuids_length(
    length: int, breaking: bool
) -> None:
    def uuid(doc: dict[str, Any]) -> None:
        doc["paths"]["/items/{id}"]["parameters"][0]["schema"]["format"] = "uuid"

    def bounded(doc: dict[str, Any]) -> None:
        uuid(doc)
        doc["paths"]["/items/{id}"]["parameters"][0]["schema"]["maxLength"] = length

    old, new = spec(), spec()
    uuid(old)
    bounded(new)
    note = "" if breaking else "; the format already implied it"
    changes = [(c.where, c.message, c.breaking) for c in compare(old, new)]
    assert changes == [
        (f"{where} path parameter 'id'", f"maxLength narrowed to {length}{note}", breaking)
        for where in (GET, PUT)
    ]


@pytest.mark.parametrize(
    ("key", "before", "narrower", "wider"),
    [
        ("minLength", 1, 2, 0),
        ("maxLength", 100, 99, 101),
    ],
)
def test_a_request_length_bound_tightened_is_breaking_and_loosened_is_not(
    key: str, before: int, narrower: int, wider: int
) -> None:
    def bound(value: int) -> Edit:
        return lambda doc: item_in(doc)["properties"]["name"].update({key: value})

    assert item_in(spec())["properties"]["name"][key] == before
    assert diff(bound(narrower)) == in_body(f"{BODY}.name", f"{key} narrowed to {narrower}")
    assert diff(bound(wider)) == []
    assert diff(bound(before)) == []


@pytest.mark.parametrize(
    ("field", "key", "value"),
    [
        ("size", "minimum", 0),
        ("size", "maximum", 10),
        ("tags", "minItems", 1),
        ("tags", "maxItems", 5),
        ("nested", "minProperties", 1),
        ("nested", "maxProperties", 3),
    ],
)
def test_a_request_bound_added_is_breaking_and_removed_is_not(
    field: str, key: str, value: int
) -> None:
    def bound(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"][field][key] = value

    assert diff(bound) == in_body(f"{BODY}.{field}", f"{key} narrowed to {value}")
    assert diff(bound, reverse=True) == []


def test_response_bounds_may_tighten_freely() -> None:
    def bound(doc: dict[str, Any]) -> None:
        item(doc)["properties"]["id"].update(minLength=3, maxLength=9, pattern="^[a-z]+$")

    assert diff(bound) == []


def test_a_pattern_added_or_changed_is_breaking_and_removed_is_not() -> None:
    def pattern(value: str) -> Edit:
        return lambda doc: item_in(doc)["properties"]["name"].update(pattern=value)

    assert diff(pattern("^a")) == in_body(f"{BODY}.name", "pattern added or changed")
    assert diff(pattern("^a"), reverse=True) == []
    old, new = spec(), spec()
    pattern("^a")(old)
    pattern("^a")(new)
    assert compare(old, new) == []
    pattern("^b")(new)
    assert [c.message for c in compare(old, new)] == ["pattern added or changed"] * 2


def test_nullability_lost_in_a_request_or_gained_in_a_response_is_breaking() -> None:
    def request_not_null(doc: dict[str, Any]) -> object:
        return item_in(doc)["properties"]["note"].pop("nullable")

    def response_null(doc: dict[str, Any]) -> None:
        item(doc)["properties"]["note"]["nullable"] = True

    assert diff(request_not_null) == in_body(f"{BODY}.note", "no longer nullable")
    assert diff(request_not_null, reverse=True) == []
    assert diff(response_null) == [(f"{OK}.note", "may now be null", True)]
    assert diff(response_null, reverse=True) == []


def test_an_enum_restricting_a_request_or_losing_a_value_is_breaking() -> None:
    def restrict(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["name"]["enum"] = ["a", "b"]

    def lose(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["kind"]["enum"] = ["x"]

    def lose_all(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["kind"]["enum"] = []

    assert diff(restrict) == in_body(f"{BODY}.name", "enum added: values are now restricted")
    assert diff(restrict, reverse=True) == []
    assert diff(lose) == in_body(f"{BODY}.kind", "enum value 'y' removed")
    assert diff(lose, reverse=True) == []
    assert diff(lose_all) == [
        (f"{POST_BODY}.kind", "enum value 'x' removed", True),
        (f"{POST_BODY}.kind", "enum value 'y' removed", True),
        (f"{BODY}.kind", "enum value 'x' removed", True),
        (f"{BODY}.kind", "enum value 'y' removed", True),
    ]


def test_an_enum_value_added_to_a_response_is_breaking_and_one_removed_is_not() -> None:
    def add(doc: dict[str, Any]) -> None:
        item(doc)["properties"]["status"]["enum"] = ["open", "done", "archived", "held"]

    def restrict(doc: dict[str, Any]) -> None:
        item(doc)["properties"]["note"]["enum"] = ["n"]

    assert diff(add) == [
        (f"{OK}.status", "enum value 'archived' added to a response", True),
        (f"{OK}.status", "enum value 'held' added to a response", True),
    ]
    assert diff(add, reverse=True) == []
    assert diff(restrict) == []


# --- schemas: properties ------------------------------------------------------------------


def test_a_property_removed_is_breaking_in_requests_and_responses() -> None:
    def drop(doc: dict[str, Any]) -> None:
        del item_in(doc)["properties"]["size"]
        del item(doc)["properties"]["note"]

    assert diff(drop) == [
        (POST_BODY, "property 'size' removed", True),
        (OK, "property 'note' removed", True),
        (BODY, "property 'size' removed", True),
    ]


def test_a_property_added_is_breaking_only_when_a_request_must_send_it() -> None:
    def add(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["colour"] = {"type": "string"}
        item_in(doc)["properties"]["weight"] = {"type": "number"}
        item_in(doc)["required"] = ["weight"]
        item(doc)["properties"]["colour"] = {"type": "string"}
        item(doc)["required"].append("colour")

    assert diff(add) == [
        (POST_BODY, "optional property 'colour' added", False),
        (POST_BODY, "required property 'weight' added", True),
        (OK, "optional property 'colour' added", False),
        (BODY, "optional property 'colour' added", False),
        (BODY, "required property 'weight' added", True),
    ]


def test_a_request_property_that_became_required_is_breaking_and_the_reverse_is_not() -> None:
    def require(doc: dict[str, Any]) -> None:
        item_in(doc)["required"] = ["size"]

    assert diff(require) == in_body(BODY, "property 'size' became required")
    assert diff(require, reverse=True) == []


def test_a_response_property_no_longer_required_is_breaking_and_the_reverse_is_not() -> None:
    def relax(doc: dict[str, Any]) -> None:
        item(doc)["required"] = ["id"]

    assert diff(relax) == [(OK, "property 'status' is no longer always present", True)]
    assert diff(relax, reverse=True) == []


def test_forbidding_additional_properties_in_a_request_is_breaking() -> None:
    def forbid(doc: dict[str, Any]) -> None:
        item_in(doc)["additionalProperties"] = False
        item(doc)["additionalProperties"] = False

    assert diff(forbid) == in_body(BODY, "additional properties are now forbidden")
    assert diff(forbid, reverse=True) == []
    old, new = spec(), spec()
    forbid(old)
    forbid(new)
    assert compare(old, new) == []


# --- schemas: nesting, arrays, combinators, cycles ----------------------------------------


def test_a_nested_object_is_compared_property_by_property() -> None:
    def narrow(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["nested"]["properties"]["depth"]["maximum"] = 3

    assert diff(narrow) == in_body(f"{BODY}.nested.depth", "maximum narrowed to 3")


def test_array_items_are_compared_in_requests_and_responses() -> None:
    def request_items(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["tags"]["items"]["properties"]["name"]["type"] = "integer"

    def response_items(doc: dict[str, Any]) -> None:
        del item(doc)["properties"]["tags"]["items"]["properties"]["name"]

    def items_added(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["tags"]["items"]["required"] = ["name"]

    assert diff(request_items) == in_body(
        f"{BODY}.tags[].name", "type changed from string to integer"
    )
    assert diff(response_items) == [(f"{OK}.tags[]", "property 'name' removed", True)]
    assert diff(items_added) == in_body(f"{BODY}.tags[]", "property 'name' became required")


def test_items_appearing_on_one_side_only_are_not_compared() -> None:
    def drop_items(doc: dict[str, Any]) -> None:
        del item_in(doc)["properties"]["tags"]["items"]

    assert silent_both_ways(drop_items)


def test_combinator_branches_are_compared_by_position() -> None:
    def retype(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["choice"]["oneOf"][1] = {"type": "boolean"}
        item_in(doc)["properties"]["any"]["anyOf"][0]["maxLength"] = 4
        item_in(doc)["properties"]["all"]["allOf"][1]["required"] = ["x"]
        item_in(doc)["properties"]["all"]["allOf"][1]["properties"] = {"x": {"type": "string"}}

    assert diff(retype) == [
        (f"{POST_BODY}.all/allOf/1", "required property 'x' added", True),
        (f"{POST_BODY}.any/anyOf/0", "maxLength narrowed to 4", True),
        (f"{POST_BODY}.choice/oneOf/1", "type changed from integer to boolean", True),
        (f"{BODY}.all/allOf/1", "required property 'x' added", True),
        (f"{BODY}.any/anyOf/0", "maxLength narrowed to 4", True),
        (f"{BODY}.choice/oneOf/1", "type changed from integer to boolean", True),
    ]


def test_a_request_alternative_lost_is_breaking_unless_it_is_an_all_of_part() -> None:
    def lose(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["choice"]["oneOf"].pop()
        item_in(doc)["properties"]["any"]["anyOf"].pop()
        item_in(doc)["properties"]["all"]["allOf"].pop()
        item(doc)["properties"]["choice"]["oneOf"].pop()

    assert diff(lose) == [
        (f"{POST_BODY}.any", "anyOf lost alternatives", True),
        (f"{POST_BODY}.choice", "oneOf lost alternatives", True),
        (f"{BODY}.any", "anyOf lost alternatives", True),
        (f"{BODY}.choice", "oneOf lost alternatives", True),
    ]
    assert diff(lose, reverse=True) == []


def test_a_recursive_schema_is_compared_once_and_its_depths_still_seen() -> None:
    def recursive(doc: dict[str, Any]) -> None:
        item(doc)["properties"]["parent"] = {"$ref": "#/components/schemas/Item"}

    def deep_change(doc: dict[str, Any]) -> None:
        recursive(doc)
        item(doc)["properties"]["tags"]["items"]["properties"]["name"]["type"] = "integer"

    old, new = spec(), spec()
    recursive(old)
    recursive(new)
    assert compare(old, new) == []
    deep_change(new)
    assert [(c.where, c.message) for c in compare(old, new)] == [
        (f"{OK}.tags[].name", "type changed from string to integer")
    ]


def test_a_recursion_through_array_items_or_a_combinator_ends() -> None:
    def recursive(doc: dict[str, Any]) -> None:
        props = item(doc)["properties"]
        props["children"] = {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}
        props["either"] = {"oneOf": [{"$ref": "#/components/schemas/Item"}]}

    old, new = spec(), spec()
    recursive(old)
    recursive(new)
    assert compare(old, new) == []
    item(new)["properties"]["note"]["type"] = "integer"
    assert [c.where for c in compare(old, new)] == [f"{OK}.note"]


def test_an_unchanged_format_or_nullability_is_no_change_in_requests_or_responses() -> None:
    def formats(doc: dict[str, Any]) -> None:
        item_in(doc)["properties"]["name"]["format"] = "email"
        item(doc)["properties"]["note"].update(format="email", nullable=True)

    old, new = spec(), spec()
    formats(old)
    formats(new)
    assert compare(old, new) == []


def test_an_enum_that_was_not_a_list_counts_as_no_enum() -> None:
    old, new = spec(), spec()
    item_in(old)["properties"]["name"]["enum"] = "x"
    item_in(new)["properties"]["name"]["enum"] = ["x"]
    assert [(c.where, c.message) for c in compare(old, new)] == [
        (f"{POST_BODY}.name", "enum added: values are now restricted"),
        (f"{BODY}.name", "enum added: values are now restricted"),
    ]


def test_references_are_followed_on_each_side_in_its_own_document() -> None:
    """A parameter's schema, a request body and a media type, each given by ``$ref``, are
    resolved in the old document for the old side and in the new one for the new side."""

    def by_reference(doc: dict[str, Any]) -> None:
        components = doc["components"]
        components["schemas"]["Q"] = components["parameters"]["Q"].pop("schema")
        components["parameters"]["Q"]["schema"] = {"$ref": "#/components/schemas/Q"}
        put = doc["paths"]["/items/{id}"]["put"]
        components["requestBodies"] = {"ItemIn": put.pop("requestBody")}
        put["requestBody"] = {"$ref": "#/components/requestBodies/ItemIn"}
        components["x-media"] = {"Item": {"schema": {"$ref": "#/components/schemas/Item"}}}
        ok = doc["paths"]["/items/{id}"]["get"]["responses"]["200"]
        ok["content"][JSON] = {"$ref": "#/components/x-media/Item"}
        components["requestBodies"]["ItemIn"]["content"][JSON] = {
            "$ref": "#/components/x-media/ItemIn"
        }
        components["x-media"]["ItemIn"] = {"schema": {"$ref": "#/components/schemas/ItemIn"}}

    old, new = spec(), spec()
    by_reference(old)
    by_reference(new)
    assert compare(old, new) == []
    new["components"]["schemas"]["Q"]["type"] = "integer"
    item_in(new)["properties"]["size"]["type"] = "string"
    item(new)["properties"]["note"]["type"] = "integer"
    assert [(c.where, c.message) for c in compare(old, new)] == [
        (f"{POST_BODY}.size", "type changed from integer to string"),
        (f"{GET} query parameter 'q'", "type changed from string to integer"),
        (f"{OK}.note", "type changed from string to integer"),
        (f"{BODY}.size", "type changed from integer to string"),
    ]


def test_a_parameter_without_a_name_is_ignored_and_one_without_a_location_compared() -> None:
    def odd(doc: dict[str, Any]) -> None:
        doc["paths"]["/items"]["post"]["parameters"] = [
            {"in": "query", "schema": {"type": "string"}},
            {"name": "a"},
            {"name": "b", "in": "query"},
        ]

    def more(doc: dict[str, Any]) -> None:
        odd(doc)
        doc["paths"]["/items"]["post"]["parameters"] += [
            {"name": "c"},
            {"name": "d", "in": "query"},
        ]

    # Sorted by the text of (location, name), so a missing location sorts after a quoted one.
    assert diff(odd) == [
        (POST, "optional query parameter 'b' added", False),
        (POST, "optional None parameter 'a' added", False),
    ]
    old, new = spec(), spec()
    odd(old)
    more(new)
    assert [c.message for c in compare(old, new)] == [
        "optional query parameter 'd' added",
        "optional None parameter 'c' added",
    ]
    assert [c.message for c in compare(new, old)] == [
        "query parameter 'd' removed",
        "None parameter 'c' removed",
    ]


# --- the gate, versions and loading -------------------------------------------------------


def test_change_reads_as_one_aligned_line() -> None:
    assert str(Change("GET /x", "response 404 removed", True)) == (
        "BREAKING  GET /x: response 404 removed"
    )
    assert str(Change("GET /x", "response 500 added", False)) == (
        "ok        GET /x: response 500 added"
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.2.0", 1), ("v3", 3), ("12.0", 12), (7, 7), ("beta", None), ("", None)],
)
def test_major_is_the_leading_number_of_info_version(version: object, expected: int | None) -> None:
    assert major({"info": {"version": version}}) == expected


def test_major_is_none_without_an_info_version() -> None:
    assert major({}) is None
    assert major({"info": "1.0"}) is None
    assert major({"info": {}}) is None


@pytest.mark.parametrize(
    ("old_version", "new_version", "passes"),
    [
        ("1.2.0", "1.9.0", False),
        ("1.2.0", "2.0.0", True),
        ("2.0.0", "1.0.0", False),
        ("none", "2.0.0", False),
        ("1.0.0", "none", False),
    ],
)
def test_a_breaking_change_passes_only_with_a_higher_major_version(
    old_version: str, new_version: str, passes: bool
) -> None:
    old, new = spec(), spec()
    old["info"]["version"], new["info"]["version"] = old_version, new_version
    del new["paths"]["/items/{id}"]["put"]
    changes, ok = gate(old, new)
    assert changes == [Change(PUT, "operation removed", True)]
    assert ok is passes


def test_non_breaking_changes_pass_without_a_version_bump() -> None:
    old, new = spec(), spec()
    del old["paths"]["/items/{id}"]["put"]
    changes, ok = gate(old, new)
    assert changes == [Change(PUT, "operation added", False)]
    assert ok is True


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose one commit holds BASE as openapi.yaml and as api/spec.yaml."""
    (tmp_path / "api").mkdir()
    for name in ("openapi.yaml", "api/spec.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(BASE))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.test"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "spec"], cwd=tmp_path, check=True)
    return tmp_path


def test_a_document_loads_from_a_file_a_git_path_or_a_bare_ref(repo: Path) -> None:
    assert load_document(str(repo / "openapi.yaml"), root=repo) == BASE
    assert load_document("main", root=repo) == BASE
    assert load_document("main", root=repo, default_path="api/spec.yaml") == BASE
    assert load_document("git:main:api/spec.yaml", root=repo) == BASE
    assert load_document("git:main", root=repo) == BASE


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("--output=x", "'--output=x' is neither a file nor a git ref"),
        # Only characters a ref may hold, but an option to git all the same.
        ("--all", "'--all' is neither a file nor a git ref"),
        ("main;rm", "'main;rm' is neither a file nor a git ref"),
        ("no-such-ref", "git show no-such-ref:openapi.yaml failed: fatal: "),
        ("git:main:missing.yaml", "git show main:missing.yaml failed: fatal: "),
    ],
)
def test_a_source_that_is_neither_a_file_nor_a_ref_is_a_config_error(
    repo: Path, source: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_document(source, root=repo)
    assert str(raised.value).startswith(message)
    assert "fatal" in str(raised.value) or "neither" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("a: [unclosed", "not YAML: "), ("- a list\n", "not an OpenAPI document")],
)
def test_a_file_that_is_not_a_yaml_mapping_is_a_config_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_document(str(path), root=tmp_path)
    assert str(raised.value).startswith(f"{path}: {message}")
