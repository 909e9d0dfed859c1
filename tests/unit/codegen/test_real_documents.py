"""Constructs of real third-party documents (specs/real_world.yaml): each one generates typed
code, with a located warning wherever codegen had to decide something."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegen.prepare import derived_operation_id, normalize
from tests.unit.codegen.kit import PACKAGE_DIR, make_project, mypy, run


@pytest.fixture(scope="module")
def real_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = make_project(tmp_path_factory.mktemp("real_world"), "real_world.yaml")
    result = run(root)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return root, result.stderr


def _components(root: Path) -> str:
    return (root / PACKAGE_DIR / "components.py").read_text()


@pytest.mark.parametrize(
    ("method", "url", "name"),
    [
        ("post", "/images/upload", "post_images_upload"),
        ("GET", "/images/{imageId}", "get_images_by_image_id"),
        ("delete", "/api/v1/accounts/{id}/statuses", "delete_api_v1_accounts_by_id_statuses"),
        ("get", "/", "get_root"),
    ],
)
def test_a_derived_operation_id_is_the_method_and_the_path(
    method: str, url: str, name: str
) -> None:
    assert derived_operation_id(method, url) == name


def test_operations_without_operation_id_get_unique_derived_names_and_a_warning_each(
    real_world: tuple[Path, str],
) -> None:
    root, stderr = real_world
    assert (
        "warning: #/paths/~1images~1upload/post: no operationId; named 'post_images_upload'"
    ) in stderr
    # The put operation already took get_images_by_image_id.
    assert (
        "warning: #/paths/~1images~1{imageId}/get: no operationId; named 'get_images_by_image_id_2'"
    ) in stderr
    operations = (root / PACKAGE_DIR / "operations.py").read_text()
    for name in ("post_images_upload", "get_images_by_image_id_2", "get_images_by_image_id"):
        assert f'"{name}": "sample.api.images.routes:{name}"' in operations


def test_the_preferred_request_media_type_is_generated_and_the_others_are_warnings(
    real_world: tuple[Path, str],
) -> None:
    root, stderr = real_world
    assert (
        "warning: #/paths/~1images~1{imageId}/put/requestBody/content/application~1xml: "
        "request media type 'application/xml' ignored: it arrives as raw text, not parsed like "
        "'application/json'"
    ) in stderr
    assert (
        "warning: #/paths/~1images~1upload/post/requestBody/content/application~1octet-stream: "
        "request media type 'application/octet-stream' ignored: it arrives as raw binary, not "
        "parsed like 'multipart/form-data'"
    ) in stderr
    schemas = (root / PACKAGE_DIR / "images" / "schemas.py").read_text()
    assert "body: Trigger | None" in schemas
    assert "file: FileStorage" in schemas


def test_enum_members_and_defaults_type_check(real_world: tuple[Path, str]) -> None:
    components = _components(real_world[0])
    # A member named like a str method would override it.
    assert 'count_ = "count"' in components
    assert 'index_ = "index"' in components
    # A default of an enum-typed field is the member, not the bare string.
    assert "mode: TriggerMode = TriggerMode.daily" in components


def test_nullable_false_and_default_null_leave_an_optional_field_optional(
    real_world: tuple[Path, str],
) -> None:
    root, stderr = real_world
    components = _components(root)
    assert "status: int | None = None" in components
    assert "note: str | None = None" in components
    assert (
        "warning: #/components/schemas/Trigger/properties/note/default: default null on a "
        "schema that is not nullable; read as no default"
    ) in stderr
    assert "nullable/" not in stderr


def test_an_array_default_outside_the_items_enum_is_dropped_with_a_warning(
    real_world: tuple[Path, str],
) -> None:
    root, stderr = real_world
    assert "kinds: list[TriggerKind] | None = None" in _components(root)
    assert (
        'warning: #/components/schemas/Trigger/properties/kinds/default: default ["<all '
        'available types>"] has items that are not among the enum values of `items`; dropped'
    ) in stderr


def test_a_discriminator_over_an_inherited_enum_field_uses_its_members(
    real_world: tuple[Path, str],
) -> None:
    components = _components(real_world[0])
    assert "class EpisodeObject(EpisodeBase):" in components
    assert "type: Literal[EpisodeBaseType.episode]" in components


def test_a_component_named_like_a_runtime_import_is_renamed(
    real_world: tuple[Path, str],
) -> None:
    root, _ = real_world
    assert "class ApiResponseModel(BaseModel):" in _components(root)
    schemas = (root / PACKAGE_DIR / "images" / "schemas.py").read_text()
    assert "body: ApiResponseModel" in schemas


def test_a_reference_into_a_component_is_typed_inline(real_world: tuple[Path, str]) -> None:
    # Not a RootModel class whose default would be a bare bool.
    components = _components(real_world[0])
    assert components.count("enabled: bool = False") == 2
    assert "RootModel" not in components


def test_a_pattern_pydantic_cannot_compile_is_left_out_with_a_warning(
    real_world: tuple[Path, str],
) -> None:
    root, stderr = real_world
    assert "label: str | None = None" in _components(root)
    assert (
        "warning: #/components/schemas/Trigger/properties/label/pattern: pattern uses a "
        "construct pydantic's regex engine lacks"
    ) in stderr


def test_an_unquoted_yaml_date_is_read_as_the_string_json_would_hold(
    real_world: tuple[Path, str],
) -> None:
    # The example `2022-01-01` used to reach the validator as a datetime.date and stop it.
    assert "Unsupported type" not in real_world[1]


def test_a_parameter_named_like_an_imported_type_does_not_hide_it(
    real_world: tuple[Path, str],
) -> None:
    schemas = (real_world[0] / PACKAGE_DIR / "images" / "schemas.py").read_text()
    assert 'date_: date | None = Field(None, alias="date")' in schemas


def test_real_world_output_passes_mypy_strict_and_regenerates_identically(
    real_world: tuple[Path, str],
) -> None:
    root, _ = real_world
    result = mypy(root)
    assert result.exit_code == 0, result.stdout + result.stderr
    check = run(root, "--check")
    assert "codegen: up to date" in check.stdout, check.stdout + check.stderr


def test_normalize_copies_only_when_something_changes() -> None:
    document = {"openapi": "3.0.3", "paths": {"/x": {"get": {"operationId": "getX"}}}}
    same, warnings = normalize(document)
    assert same == document
    assert warnings == []
    changed, warnings = normalize({"openapi": "3.0.3", "paths": {"/x": {"get": {}}}})
    assert changed["paths"]["/x"]["get"]["operationId"] == "get_x"
    assert [w.pointer for w in warnings] == ["#/paths/~1x/get"]
