"""Names derived from the spec."""

from __future__ import annotations

import pytest

from codegen.errors import pointer
from codegen.naming import connexion_kwarg, domain_name, field_name, function_name, pascal_case


@pytest.mark.parametrize(
    ("spec_name", "python_name"),
    [
        ("createProject", "create_project"),
        ("getHTTPStatus", "get_http_status"),
        ("import", "import_"),
    ],
)
def test_function_names_are_snake_case_of_the_operation_id(
    spec_name: str, python_name: str
) -> None:
    assert function_name(spec_name) == python_name


def test_class_prefixes_are_pascal_case() -> None:
    assert pascal_case("listProjects") == "ListProjects"


@pytest.mark.parametrize(
    ("spec_name", "python_name"),
    [
        ("X-Request-ID", "x_request_id"),
        ("id", "id_"),
        ("json", "json_"),
        ("class", "class_"),
        ("date", "date_"),
    ],
)
def test_field_names_avoid_keywords_builtins_and_model_attributes(
    spec_name: str, python_name: str
) -> None:
    assert field_name(spec_name) == python_name


@pytest.mark.parametrize(
    ("spec_name", "kwarg"), [("tag[]", "tag"), ("filter[name]", "filter_name"), ("1st-x", "stx")]
)
def test_aliases_match_the_keyword_arguments_connexion_passes(spec_name: str, kwarg: str) -> None:
    assert connexion_kwarg(spec_name) == kwarg


def test_domain_names_are_lowercased_tags_with_underscores() -> None:
    assert domain_name("Health Checks") == "health_checks"


def test_pointers_escape_slashes_and_tildes() -> None:
    assert pointer(["paths", "/a/{b}", "get"]) == "#/paths/~1a~1{b}/get"
    assert pointer(["x~y"]) == "#/x~0y"
