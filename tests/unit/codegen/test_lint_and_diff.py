"""``python -m codegen lint``, ``diff`` and ``--lenient`` on small documents."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from codegen.checks.diff import compare, gate
from codegen.checks.lint import lint
from tests.unit.codegen.kit import REPO, SPECS, make_project, run


def _spec(name: str = "coverage.yaml") -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SPECS / name).read_text())
    return loaded


def _rules(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.pointer, f.rule) for f in lint(data)]


def test_the_repository_spec_passes_lint() -> None:
    assert lint(yaml.safe_load((REPO / "openapi.yaml").read_text())) == []


def test_each_rule_reports_its_id_location_and_fix() -> None:
    data = _spec()
    get = data["paths"]["/things"]["get"]
    del get["operationId"], get["tags"], get["security"]
    get["parameters"] = []
    get["responses"]["400"] = {"description": "Bad.", "content": {"application/json": {}}}
    post = data["paths"]["/things"]["post"]
    post["requestBody"]["content"]["application/json"]["schema"] = {"type": "object"}
    post["x-rate-limit"] = {"limit": "lots"}
    found = _rules(data)
    assert ("#/paths/~1things/get", "operation-id") in found
    assert ("#/paths/~1things/get", "operation-tag") in found
    assert ("#/paths/~1things/get", "explicit-security") in found
    assert ("#/paths/~1things/get", "paginated-list") in found
    assert ("#/paths/~1things/get/responses/400", "problem-json") in found
    assert (
        "#/paths/~1things/post/requestBody/content/application~1json/schema",
        "closed-request-body",
    ) in found
    assert ("#/paths/~1things/post/x-rate-limit/limit", "policy") in found
    line = str(next(f for f in lint(data) if f.rule == "paginated-list"))
    assert line.startswith("#/paths/~1things/get: [paginated-list] ")
    assert "(fix: add `limit` and `cursor` query parameters" in line


def test_a_rate_limited_operation_must_document_its_429_with_retry_after() -> None:
    data = _spec()
    post = data["paths"]["/things"]["post"]
    post["x-rate-limit"] = {"limit": "5/minute"}
    post["responses"].pop("429", None)
    missing = "#/paths/~1things/post/responses"
    assert (missing, "documented-limit") in _rules(data)
    post["responses"]["429"] = {
        "description": "Slow down.",
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
    }
    assert ("#/paths/~1things/post/responses/429", "documented-limit") in _rules(data)
    post["responses"]["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    assert not [f for f in lint(data) if f.rule == "documented-limit"]


def test_a_document_wide_limit_needs_a_429_everywhere_but_where_it_is_switched_off() -> None:
    data = _spec()
    data["x-rate-limit"] = {"limit": "100/minute", "key": "caller"}
    limited = {p for p, rule in _rules(data) if rule == "documented-limit"}
    assert limited
    for item in data["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["x-rate-limit"] = False
    assert not [f for f in lint(data) if f.rule == "documented-limit"]


def test_write_safety_policies_need_their_headers_and_responses() -> None:
    data = _spec()
    post = data["paths"]["/things"]["post"]
    assert _rules(data) == []
    post["parameters"][0]["required"] = False
    del post["responses"]["422"]
    assert _rules(data) == [
        ("#/paths/~1things/post", "idempotency-key"),
        ("#/paths/~1things/post/responses", "idempotency-key"),
    ]
    post["x-idempotent"] = True
    post["parameters"] = []
    post["x-require-if-match"] = True
    found = _rules(data)
    assert ("#/paths/~1things/post", "idempotency-key") in found
    assert found.count(("#/paths/~1things/post/responses", "if-match")) == 2
    post["parameters"] = [{"name": "if-match", "in": "header", "required": True}]
    assert ("#/paths/~1things/post", "if-match") in _rules(data)
    post["x-idempotent"] = "yes"
    assert ("#/paths/~1things/post/x-idempotent", "policy") in _rules(data)


def test_a_rule_is_ignored_per_operation_only_with_a_reason() -> None:
    data = _spec()
    get = data["paths"]["/things"]["get"]
    get["parameters"] = []
    get["x-lint-ignore"] = [{"rule": "paginated-list", "reason": "at most 3 things exist"}]
    assert _rules(data) == []
    get["x-lint-ignore"] = [{"rule": "paginated-list"}, {"rule": "no-such-rule", "reason": "x"}]
    assert _rules(data) == [
        ("#/paths/~1things/get/x-lint-ignore/0", "lint-ignore"),
        ("#/paths/~1things/get/x-lint-ignore/1/rule", "lint-ignore"),
        ("#/paths/~1things/get", "paginated-list"),
    ]


def test_a_schema_rule_cannot_be_ignored_by_an_operation() -> None:
    data = _spec()
    get = data["paths"]["/things"]["get"]
    get["x-lint-ignore"] = [{"rule": "unique-enum", "reason": "the vendor repeats values"}]
    found = [str(f) for f in lint(data) if f.rule == "lint-ignore"]
    assert found == [
        "#/paths/~1things/get/x-lint-ignore/0/rule: [lint-ignore] 'unique-enum' judges schemas, "
        "which no operation owns: correct the schema (fix: write `x-lint-ignore: [{rule: <id>, "
        "reason: '<why this operation is different>'}]`)"
    ]


def test_check_fails_on_lint_findings_even_when_the_code_is_up_to_date(tmp_path: Path) -> None:
    root = make_project(tmp_path, "coverage.yaml")
    spec = root / "openapi.yaml"
    spec.write_text(spec.read_text().replace("      security: []\n", "", 1))
    assert run(root).exit_code == 0
    result = run(root, "--check")
    assert result.exit_code == 1
    assert "codegen: up to date" in result.stdout
    assert "[explicit-security]" in result.stderr


def test_a_removed_response_field_is_breaking() -> None:
    old = _spec()
    new = copy.deepcopy(old)
    del new["components"]["schemas"]["ThingPage"]["properties"]["next"]
    changes = compare(old, new)
    assert [str(c) for c in changes if c.breaking] == [
        "BREAKING  GET /things response 200: property 'next' removed"
    ]
    assert gate(old, new)[1] is False


def test_a_new_required_query_parameter_is_breaking_unless_the_major_version_goes_up() -> None:
    old = _spec()
    new = copy.deepcopy(old)
    new["paths"]["/things"]["get"]["parameters"].append(
        {"name": "owner", "in": "query", "required": True, "schema": {"type": "string"}}
    )
    (change,) = compare(old, new)
    assert change.breaking
    assert change.message == "required query parameter 'owner' added"
    assert gate(old, new)[1] is False
    new["info"]["version"] = "3.0.0"
    assert gate(old, new)[1] is True


def test_an_added_optional_field_is_not_breaking() -> None:
    old = _spec()
    new = copy.deepcopy(old)
    new["components"]["schemas"]["Thing"]["properties"]["colour"] = {"type": "string"}
    changes = compare(old, new)
    assert changes
    assert not any(c.breaking for c in changes)
    assert gate(old, new)[1] is True


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s["components"]["schemas"]["Thing"]["properties"]["name"].update(maxLength=3),
            "maxLength narrowed to 3",
        ),
        (
            lambda s: s["components"]["schemas"]["Thing"]["properties"]["kind"]["enum"].remove("b"),
            "enum value 'b' removed",
        ),
        (
            lambda s: s["paths"]["/things/{thing-id}"]["get"].update(security=[{"bearer": []}]),
            "security added",
        ),
        (
            lambda s: s["paths"]["/things/{thing-id}"]["delete"]["responses"].update(
                {"200": s["paths"]["/things/{thing-id}"]["delete"]["responses"].pop("204")}
            ),
            "response 204 removed",
        ),
    ],
)
def test_narrowed_constraints_security_and_status_changes_are_breaking(
    edit: Any, message: str
) -> None:
    old = _spec()
    new = copy.deepcopy(old)
    edit(new)
    assert any(c.breaking and message in c.message for c in compare(old, new))


def test_diff_command_exits_1_on_a_breaking_change(tmp_path: Path) -> None:
    root = make_project(tmp_path, "coverage.yaml")
    old = tmp_path / "old.yaml"
    old.write_text((root / "openapi.yaml").read_text())
    spec = root / "openapi.yaml"
    spec.write_text(spec.read_text().replace("        next: {type: string, nullable: true}\n", ""))
    result = run(root, "diff", str(old))
    assert result.exit_code == 1
    assert "BREAKING  GET /things response 200: property 'next' removed" in result.stdout
    assert run(root, "diff", str(old), str(old)).exit_code == 0


def test_lenient_repairs_a_string_default_with_a_located_warning(tmp_path: Path) -> None:
    root = make_project(tmp_path, "coverage.yaml")
    spec = root / "openapi.yaml"
    spec.write_text(
        spec.read_text().replace("maximum: 100, default: 20}", "maximum: 100, default: '20'}")
    )
    where = "#/paths/~1things/get/parameters/0/schema/default"
    strict = run(root)
    assert strict.exit_code == 2
    assert f"{where}: default \"20\" is not of type 'integer'" in strict.stderr
    lenient = run(root, "--lenient")
    assert lenient.exit_code == 0, lenient.stderr
    assert f"warning: {where}: lenient: default \"20\" is not of type 'integer'; read as 20" in (
        lenient.stderr
    )
    things = root / "sample/api/things/schemas.py"
    assert 'limit: int = Field(20, alias="limit"' in things.read_text()


def test_swagger_2_is_rejected_with_advice(tmp_path: Path) -> None:
    root = make_project(tmp_path, "small.yaml")
    (root / "openapi.yaml").write_text(
        "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n"
    )
    result = run(root)
    assert result.exit_code == 2
    assert "#/swagger: Swagger 2.0 is not supported; convert the document" in result.stderr


def test_a_required_name_absent_from_the_properties_is_a_finding_with_a_suggestion() -> None:
    data = _spec()
    data["components"]["schemas"]["Record"] = {
        "type": "object",
        "required": ["id", "created"],
        "properties": {"id": {"type": "string"}, "created_at": {"type": "string"}},
    }
    # An allOf member may require what another member declares.
    data["components"]["schemas"]["Merged"] = {
        "allOf": [{"$ref": "#/components/schemas/Record"}, {"required": ["id"], "properties": {}}]
    }
    findings = [f for f in lint(data) if f.rule == "required-property"]
    assert [f.pointer for f in findings] == ["#/components/schemas/Record/required/1"]
    assert "'created' is required but not among the properties (did you mean 'created_at'?)" in (
        str(findings[0])
    )
    assert "(fix: correct the spelling in `required`" in str(findings[0])


def test_a_repeated_enum_value_is_a_finding_and_generated_once(tmp_path: Path) -> None:
    data = _spec()
    data["components"]["schemas"]["Wallet"] = {
        "type": "string",
        "enum": ["grabpay_VN", "grabpay_SG", "grabpay_VN"],
    }
    findings = [str(f) for f in lint(data) if f.rule == "unique-enum"]
    assert findings == [
        '#/components/schemas/Wallet/enum: [unique-enum] the enum repeats "grabpay_VN" '
        "(fix: remove the repeated value (codegen keeps one))"
    ]
    root = make_project(tmp_path, "coverage.yaml")
    (root / "openapi.yaml").write_text(yaml.safe_dump(data))
    result = run(root)
    assert result.exit_code == 0, result.stderr
    assert (
        'warning: #/components/schemas/Wallet/enum: enum values repeated ("grabpay_VN"); '
        "each is generated once"
    ) in result.stderr
    components = (root / "sample/api/components.py").read_text()
    assert components.count('"grabpay_VN"') == 1
