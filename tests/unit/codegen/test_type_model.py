"""The type model: nested objects typed, positional names, clashes renamed, allOf narrowing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from codegen import typemodel
from codegen.format import ruff_binary
from codegen.naming import field_name
from codegen.pysource import ascii_only, noqa_header
from tests.unit.codegen.kit import PACKAGE_DIR, REPO, make_project, mypy, run


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = make_project(tmp_path_factory.mktemp("type_model"), "type_model.yaml")
    # The project's own rule set, so the file-level exemptions it needs are kept.
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            '\n[tool.ruff.lint]\nselect = ["E", "F", "W", "I", "B", "UP", "S", "RUF"]\n'
        )
    result = run(root)
    assert result.exit_code == 0, result.stderr
    return root, result.stderr


def _read(root: Path, name: str) -> str:
    return (root / PACKAGE_DIR / name).read_text()


def test_nested_inline_objects_get_classes_named_after_their_position(
    generated: tuple[Path, str],
) -> None:
    components = _read(generated[0], "components.py")
    assert "class IncidentCreateIncident(BaseModel):" in components
    assert "incident: IncidentCreateIncident" in components
    # An array item of a plural property is named in the singular.
    assert "class IncidentCreateIncidentAssignment(BaseModel):" in components
    assert "assignments: list[IncidentCreateIncidentAssignment] | None = None" in components
    assert "class IncidentCreateIncidentUrgency(StrEnum):" in components
    assert (
        "urgency: IncidentCreateIncidentUrgency = IncidentCreateIncidentUrgency.low" in components
    )
    # Below an operation's inline body too: no dict[str, Any] where the spec gave properties.
    assert "class CreateIncident201BodyData(BaseModel):" in components
    assert "data: CreateIncident201BodyData | None" in _read(generated[0], "default/schemas.py")
    # The one free-form object of the spec (no properties) is the only dict.
    assert components.count("dict[str, Any]") == 1
    assert "context_info: dict[str, Any] | None = None" in components


def test_one_of_members_are_named_by_title_or_constant(generated: tuple[Path, str]) -> None:
    components = _read(generated[0], "components.py")
    assert "class NotificationPush(BaseModel):" in components
    assert "class NotificationMail(BaseModel):" in components
    assert "Type1" not in components


def test_a_component_named_like_a_generated_type_is_renamed_with_a_warning(
    generated: tuple[Path, str],
) -> None:
    root, stderr = generated
    assert (
        "warning: #/components/schemas/AccountsGetRequest: type 'AccountsGetRequest' renamed "
        "'AccountsGetRequestSchema': a generated type of 'accountsGet' has that name"
    ) in stderr
    assert "body: AccountsGetRequestSchema" in _read(root, "default/schemas.py")


def test_a_narrowed_enum_in_an_all_of_child_is_a_literal_of_the_base_members(
    generated: tuple[Path, str],
) -> None:
    components = _read(generated[0], "components.py")
    assert "class EmailContactMethod(ContactMethod):" in components
    assert "type: Literal[ContactMethodType.email]" in components
    assert "class EmailContactMethodType" not in components


def test_an_object_restated_in_an_all_of_child_subclasses_the_base_property_class(
    generated: tuple[Path, str],
) -> None:
    components = _read(generated[0], "components.py")
    assert "class FirewallCreateRules(FirewallRules):" in components
    assert "class FirewallCreate(Firewall):" in components
    assert "    rules: FirewallCreateRules\n" in components
    # Restated with `required` only, `inbound` keeps the base's type instead of becoming Any.
    assert "inbound: Any" not in components


def test_an_incompatible_all_of_override_keeps_the_base_type_with_a_warning(
    generated: tuple[Path, str],
) -> None:
    root, stderr = generated
    assert (
        "warning: #/components/schemas/ConflictError/allOf/1/properties/context_info: restates "
        "'context_info' of its allOf base with a type that is not a subtype of the base's (a "
        "free-form object); typed as the base's"
    ) in stderr
    components = _read(root, "components.py")
    assert "class ConflictError(ClientError):\n    pass\n" in components
    # The class lifted for the dropped override is not emitted.
    assert "ConflictErrorContextInfo" not in components
    # A described use of a component is that component, not a class of its own.
    assert "contact: ContactMethod | None = None" in components


def test_an_all_of_child_restating_a_base_array_with_other_items_keeps_the_base_type(
    generated: tuple[Path, str],
) -> None:
    root, stderr = generated
    assert (
        "warning: #/components/schemas/TaggedCreate/allOf/1/properties/tags: restates the "
        "array 'tags' of its allOf base with other items (a list's items cannot be narrowed); "
        "typed as the base's"
    ) in stderr
    components = _read(root, "components.py")
    assert "class TaggedCreate(Tagged):\n    pass\n" in components
    assert "tags: list[TaggedTag] | None = None" in components
    assert "TaggedCreateTag" not in components


def test_a_body_with_properties_or_items_but_no_type_is_typed(
    generated: tuple[Path, str],
) -> None:
    root, stderr = generated
    schemas = _read(root, "default/schemas.py")
    assert "class ZoneGet200Body(BaseModel):" in schemas
    assert "body: ZoneGet200Body\n" in schemas
    assert "body: list[ContactMethod]\n" in schemas
    assert (
        "warning: #/paths/~1methods/get/responses/200/content/application~1json/schema: `items` "
        "without `type`: typed as an array (add `type: array`; a value of another type passes "
        "validation but not the model)"
    ) in stderr


def test_the_openapi_3_0_null_schema_among_options_makes_them_nullable(
    generated: tuple[Path, str],
) -> None:
    root, stderr = generated
    assert "validation: Firewall | None = None" in _read(root, "components.py")
    assert (
        "warning: #/components/schemas/Signer/properties/validation/anyOf/1: an object that "
        "holds nothing, or null, read as null: typed `| None` (`{}` passes validation but not "
        "the model)"
    ) in stderr


def test_component_fields_are_snake_case_with_the_wire_name_as_alias(
    generated: tuple[Path, str],
) -> None:
    root, _ = generated
    components = _read(root, "components.py")
    assert 'account_id: Annotated[str | None, Field(alias="AccountID")] = None' in components
    assert 'has_attachments: Annotated[bool | None, Field(alias="HasAttachments")]' in components
    assert 'ids: Annotated[list[str] | None, Field(alias="IDs")] = None' in components
    assert 'contact_ids: str | None = Field(None, alias="ContactIDs")' in _read(
        root, "default/schemas.py"
    )


def test_docstrings_are_ascii_and_credential_like_members_are_exempt_with_a_reason(
    generated: tuple[Path, str],
) -> None:
    root, _ = generated
    components = _read(root, "components.py")
    assert 'A "title" - short...' in components
    assert components.isascii()
    assert '"""Created - with an en dash."""' in _read(root, "default/schemas.py")
    assert re.search(r"^# ruff: noqa: [^\n]*\bS105\b[^\n]*\n# S105: ", components, re.M)


def test_output_passes_the_project_rules_mypy_strict_and_regenerates_identically(
    generated: tuple[Path, str],
) -> None:
    root, _ = generated
    ruff = subprocess.run(
        [
            ruff_binary(),
            "check",
            "--no-cache",
            "--config",
            str(REPO / "pyproject.toml"),
            "--config",
            'lint.isort.known-first-party = ["sample", "runtime"]',
            PACKAGE_DIR,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout
    checked = mypy(root)
    assert checked.exit_code == 0, checked.stdout
    # --check exits 1 for lint findings of the spec itself; the files are what it compares.
    assert run(root, "--check").stdout == "codegen: up to date\n"


def test_names_are_claimed_in_document_order_and_are_stable() -> None:
    document = {
        "openapi": "3.0.3",
        "paths": {},
        "components": {
            "schemas": {
                "Page": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"type": "object", "properties": {}}},
                        "meta": {"type": "object", "properties": {"total": {"type": "integer"}}},
                    },
                },
                "PageMeta": {"type": "string"},
            }
        },
    }
    model = typemodel.build(document)
    schemas = model.document["components"]["schemas"]
    # The spec's PageMeta keeps its name; the lifted object takes a suffix, with a warning.
    assert list(schemas) == ["PageMetaModel", "Page", "PageMeta"]
    assert schemas["Page"]["properties"]["meta"] == {"$ref": "#/components/schemas/PageMetaModel"}
    # An object without properties is free-form: nothing to name.
    assert schemas["Page"]["properties"]["items"]["items"] == {"type": "object", "properties": {}}
    assert [str(w) for w in model.warnings] == [
        "#/components/schemas/Page/properties/meta: type 'PageMeta' renamed 'PageMetaModel': "
        "another type has that name"
    ]
    assert typemodel.build(document).document == model.document


@pytest.mark.parametrize(
    ("spec_name", "python_name"),
    [
        ("IDs", "ids"),
        ("ContactIDs", "contact_ids"),
        ("AccountID", "account_id"),
        ("HasAttachments", "has_attachments"),
        ("URLsList", "urls_list"),
    ],
)
def test_acronyms_are_one_word(spec_name: str, python_name: str) -> None:
    assert field_name(spec_name) == python_name


def test_ascii_only_keeps_values_exact_and_prose_readable() -> None:
    source = (
        'def f() -> str:\n    """Go \u2013 now."""\n'
        '    return "caf\u00e9 \u2013"  # a \u201cnote\u201d\n'
    )
    fixed = ascii_only(source)
    assert fixed.isascii()
    assert '"""Go - now."""' in fixed
    namespace: dict[str, object] = {}
    exec(compile(fixed, "<generated>", "exec"), namespace)
    assert namespace["f"]() == "caf\u00e9 \u2013"  # type: ignore[operator]
    assert '# a "note"' in fixed


def test_noqa_header_names_only_the_rules_that_apply() -> None:
    assert noqa_header("class A:\n    x = 1\n") == "# ruff: noqa: E501\n"
    assert noqa_header('class A:\n    refresh_token = "refresh_token"\n').startswith(
        "# ruff: noqa: E501, S105\n# S105: "
    )


def test_a_reason_outlives_its_exemption_never() -> None:
    from codegen.format import _drop_stale_reasons

    text = '# head\n# ruff: noqa: E501\n# S105: credentials.\n"""Doc."""\n# S105: kept below.\n'
    assert (
        _drop_stale_reasons(text) == '# head\n# ruff: noqa: E501\n"""Doc."""\n# S105: kept below.\n'
    )
    unpruned = '# ruff: noqa: E501, S105\n# S105: credentials.\n"""Doc."""\n'
    assert _drop_stale_reasons(unpruned) == unpruned
    assert _drop_stale_reasons('# S105: orphan.\n"""Doc."""\n') == '"""Doc."""\n'


def test_compositions_inside_a_lifted_property_are_lifted_too() -> None:
    def shape(name: str) -> dict[str, object]:
        return {"type": "object", "properties": {name: {"type": "string"}}}

    document = {
        "openapi": "3.0.3",
        "paths": {},
        "components": {
            "schemas": {
                "Holder": {
                    "type": "object",
                    "properties": {
                        "outer": {
                            "type": "object",
                            "properties": {
                                "choice": {"oneOf": [shape("a"), shape("b")]},
                                "merged": {"allOf": [shape("c"), shape("d")]},
                                "maybe": {"anyOf": [shape("e"), {"type": "string"}]},
                            },
                        }
                    },
                }
            }
        },
    }
    schemas = typemodel.build(document).document["components"]["schemas"]
    outer = schemas["HolderOuter"]["properties"]
    ref = "#/components/schemas/"
    assert outer["choice"] == {
        "oneOf": [{"$ref": f"{ref}HolderOuterChoiceA"}, {"$ref": f"{ref}HolderOuterChoiceB"}]
    }
    assert outer["merged"] == {"$ref": f"{ref}HolderOuterMerged"}
    assert outer["maybe"]["anyOf"][0] == {"$ref": f"{ref}HolderOuterMaybeE"}
    assert schemas["HolderOuterMerged"]["allOf"] == [shape("c"), shape("d")]
