"""OpenAPI 3.0 constructs beyond the small spec: specs/coverage.yaml, imported and type-checked."""

from __future__ import annotations

import importlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pydantic
import pytest
from werkzeug.datastructures import FileStorage

from runtime.testing import principal
from tests.unit.codegen.kit import (
    PACKAGE_DIR,
    generate,
    golden_tree,
    importable,
    make_project,
    mypy,
    run,
    tree,
)


@pytest.fixture(scope="module")
def coverage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with importable(generate(tmp_path_factory.mktemp("coverage"), "coverage.yaml")) as root:
        yield root


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"sample.api.{name}")


def test_coverage_spec_output_matches_the_golden_files(coverage: Path) -> None:
    actual, expected = tree(coverage / PACKAGE_DIR), golden_tree("coverage")
    assert sorted(actual) == sorted(expected)
    for name, content in expected.items():
        assert actual[name].decode() == content.decode(), name


def test_generated_coverage_code_passes_mypy_strict(coverage: Path) -> None:
    result = mypy(coverage)
    assert result.exit_code == 0, result.stdout


def test_read_only_and_write_only_fields_split_request_and_response_models(
    coverage: Path,
) -> None:
    components, schemas = _module("components"), _module("things.schemas")
    assert "id" not in components.ThingRequest.model_fields
    assert "secret" not in components.ThingResponse.model_fields
    assert schemas.CreateThingRequest.model_fields["body"].annotation is components.ThingRequest
    assert schemas.CreateThing201.model_fields["body"].annotation is components.ThingResponse


def test_discriminated_unions_pick_the_variant_by_mapping_and_by_schema_name(
    coverage: Path,
) -> None:
    components = _module("components")
    pet = components.Pet.model_validate({"pet_type": "dog", "name": "Rex"})
    assert isinstance(pet.root, components.Dog)
    shape = components.Shape.model_validate({"shape": "Circle", "radius": 1})
    assert isinstance(shape.root, components.Circle)
    with pytest.raises(pydantic.ValidationError):
        components.Pet.model_validate({"pet_type": "cow", "name": "Daisy"})


def test_enums_formats_maps_recursion_and_odd_names(coverage: Path) -> None:
    components = _module("components")
    assert components.Priority(2).value == 2
    assert components.Ratio(0.5).value == 0.5
    assert components.Always("only").value == "only"
    node = components.TreeNode.model_validate({"value": "a", "kids": [{"value": "b"}]})
    assert node.kids[0].value == "b"
    thing = components.ThingResponse.model_validate(
        {
            "id": str(uuid.UUID(int=1)),
            "name": "x",
            "kind": "for",
            "email": "not-validated@example.com",
            "labels": {"a": "b"},
            "x-custom name": True,
            "import": 3,
            "note": None,
        }
    )
    assert thing.import_ == 3
    assert thing.x_custom_name is True
    assert thing.kind.value == "for"
    with pytest.raises(pydantic.ValidationError):
        components.ThingResponse.model_validate({**thing.model_dump(by_alias=True), "x": 1})


class FakeService:
    def __init__(self, respond: Any) -> None:
        self.respond = respond
        self.requests: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        def handler(request: Any, /) -> Any:
            self.requests.append(request)
            return self.respond(request)

        return handler


def _serve(monkeypatch: pytest.MonkeyPatch, domain: str, respond: Any) -> FakeService:
    fake = FakeService(respond)
    monkeypatch.setattr(_module(f"{domain}.service"), "get_service", lambda: fake)
    return fake


def test_a_default_response_carries_the_status_the_service_chose(
    coverage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas, components = _module("things.schemas"), _module("components")
    error = components.Error(title="Teapot", status=418)
    _serve(monkeypatch, "things", lambda _: schemas.GetThingDefault(status=418, body=error))
    with flask.Flask(__name__).test_request_context():
        response = _module("things.routes").get_thing(thingid=str(uuid.UUID(int=3)))
    assert response.status_code == 418
    assert response.get_json()["title"] == "Teapot"


def test_one_status_with_two_media_types_has_a_class_per_type(
    coverage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas, routes = _module("things.schemas"), _module("things.routes")
    _serve(monkeypatch, "things", lambda _: schemas.ListThings200Csv(body="id\n1\n"))
    ada = principal("ada", scopes=("things:read",))
    monkeypatch.setattr(routes, "caller", lambda: ada)
    with flask.Flask(__name__).test_request_context(headers={"Cookie": "session-id=s1"}):
        response = routes.list_things(limit="3", ids=[str(uuid.UUID(int=1))])
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.get_data() == b"id\n1\n"


def test_multipart_upload_reaches_the_service_as_a_file_and_fields(
    coverage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas, components = _module("files.schemas"), _module("components")
    cat = components.Pet.model_validate({"pet_type": "cat", "name": "Tom", "lives": 9})
    fake = _serve(monkeypatch, "files", lambda _: schemas.UploadFile201(body=cat))
    upload = FileStorage(io.BytesIO(b"\x89PNG"), filename="a.png")
    with flask.Flask(__name__).test_request_context(method="POST"):
        response = _module("files.routes").upload_file(body={"caption": "hi"}, file=upload)
    assert response.status_code == 201
    (request,) = fake.requests
    assert request.body.file.read() == b"\x89PNG"
    assert request.body.caption == "hi"


def test_form_and_raw_bodies_arrive_typed(coverage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    things, files = _module("things.schemas"), _module("files.schemas")
    fake = _serve(monkeypatch, "things", lambda _: things.ReplaceThing204())
    with flask.Flask(__name__).test_request_context(method="PUT"):
        _module("things.routes").replace_thing(
            thingid=str(uuid.UUID(int=2)), body={"name": "n", "count": 2}
        )
    assert fake.requests[0].body.count == 2
    raw = _serve(monkeypatch, "files", lambda r: files.PutRawFile200Png(body=r.body))
    with flask.Flask(__name__).test_request_context(method="PUT"):
        response = _module("files.routes").put_raw_file(name="a", body=b"\x00\x01")
    assert raw.requests[0].body == b"\x00\x01"
    assert response.headers["Content-Type"] == "image/png"
    assert response.get_data() == b"\x00\x01"


def test_the_registry_exposes_policies_scopes_and_deprecation(coverage: Path) -> None:
    policies = _module("operations").POLICIES
    assert policies["listThings"]["rate_limits"] == (
        {"limits": ("5/minute", "30/hour"), "key": "caller", "fail": "open"},
    )
    assert policies["createThing"]["rate_limits"] == ()
    assert policies["listThings"]["scopes"] == (("things:read",),)
    assert policies["createThing"]["idempotent"] is True
    assert policies["createThing"]["idempotency_key"] == "required"
    assert policies["listThings"]["idempotency_key"] == "none"
    assert policies["createThing"]["require_if_match"] is False
    assert policies["replaceThing"]["deprecated"] is True
    assert policies["getThing"]["authentication"] == "none"
    assert {policy["deadline_s"] for policy in policies.values()} == {None}


@pytest.mark.parametrize(
    ("policy", "pointer"),
    [
        ("{limit: 5/fortnight}", "/x-rate-limit/limit: x-rate-limit limit '5/fortnight'"),
        ("{limit: 5/minute, key: header}", "/x-rate-limit/key: x-rate-limit key 'header'"),
        ("{limit: 5/minute, fail: maybe}", "/x-rate-limit/fail: x-rate-limit fail 'maybe'"),
    ],
)
def test_a_malformed_rate_limit_stops_generation_with_its_pointer(
    tmp_path: Path, policy: str, pointer: str
) -> None:
    result = run(_with_policy(tmp_path, f"x-rate-limit: {policy}"))
    assert result.exit_code == 2
    assert f"#/paths/~1things/get{pointer}" in result.stderr


def _with_policy(tmp_path: Path, policy: str) -> Path:
    """The coverage project with listThings' rate limit replaced by ``policy``."""
    root = make_project(tmp_path, "coverage.yaml")
    spec = root / "openapi.yaml"
    original = "x-rate-limit: {limit: 5/minute;30/hour, key: caller, fail: open}"
    spec.write_text(spec.read_text().replace(original, policy))
    return root


@pytest.mark.parametrize("value", ["0", "-1", "301", "soon", "true"])
def test_a_malformed_deadline_stops_generation_with_its_pointer(tmp_path: Path, value: str) -> None:
    result = run(_with_policy(tmp_path, f"x-deadline: {value}"))
    assert result.exit_code == 2
    assert "#/paths/~1things/get/x-deadline: x-deadline" in result.stderr


def test_an_operations_deadline_lands_in_the_policies_table(tmp_path: Path) -> None:
    root = _with_policy(tmp_path, "x-deadline: 2.5")
    assert run(root).exit_code == 0
    text = next(root.rglob("operations.py")).read_text()
    assert "'deadline_s': 2.5" in text.replace('"', "'")


def test_a_request_media_type_of_another_shape_is_ignored_with_a_located_warning(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path, "coverage.yaml")
    spec = root / "openapi.yaml"
    raw = (
        "          application/octet-stream:\n            schema: {type: string, format: binary}\n"
    )
    json = "          application/json:\n            schema: {type: object}\n"
    spec.write_text(
        spec.read_text().replace(f"{raw}      responses:", f"{raw}{json}      responses:")
    )
    result = run(root)
    assert result.exit_code == 0, result.stderr
    assert (
        "warning: #/paths/~1files~1{name}/put/requestBody/content/application~1octet-stream: "
        "request media type 'application/octet-stream' ignored: it arrives as raw binary, not "
        "parsed like 'application/json'"
    ) in result.stderr
