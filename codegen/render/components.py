"""``components/schemas`` → Pydantic v2 models, through datamodel-code-generator's library API."""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from typing import Any

from codegen.errors import Issue, SpecError, pointer
from codegen.naming import field_name, snake_case
from codegen.typemodel import Narrowing, apply_narrowing


def render_components(
    schemas: Mapping[str, Any],
    *,
    spec_name: str,
    narrowed: Mapping[str, Narrowing] | None = None,
) -> str:
    """The text of ``components.py``: every component schema, shared by all domains."""
    doc = f'"""Shared component schemas of {spec_name}, as Pydantic models."""\n'
    if not schemas:
        return doc
    # Key order is kept: it is the field order of the models.
    code = apply_narrowing(
        _generate(
            json.dumps(schemas, ensure_ascii=False, default=str),
            json.dumps(field_aliases(schemas), sort_keys=True),
        ),
        narrowed or {},
    )
    emitted = set(re.findall(r"^class (\w+)\b", code, re.M))
    missing = [name for name in schemas if name not in (narrowed or {}) and name not in emitted]
    if missing:
        raise SpecError(
            [
                Issue(
                    pointer(("components", "schemas", name)),
                    "unsupported construct: datamodel-code-generator did not emit a class of "
                    "this name; give the schema a distinct PascalCase name",
                )
                for name in missing
            ]
        )
    return doc + "\n" + code


def field_aliases(schemas: Mapping[str, Any]) -> dict[str, str]:
    """Property → Python field name, for datamodel-code-generator's ``aliases``: snake_case as
    for parameters (``AccountID`` → ``account_id``), the wire name kept as the alias.

    A name that would collide in its class keeps its spelling there (``Class.prop`` scoped)."""
    result: dict[str, str] = {}
    for class_name, schema in schemas.items():
        if not isinstance(schema, dict):
            continue
        parts = [schema, *(p for p in schema.get("allOf") or [] if isinstance(p, dict))]
        props = [str(p) for part in parts for p in (part.get("properties") or {})]
        python = {prop: field_name(prop) for prop in props if snake_case(prop) != prop}
        counts = Counter([python.get(prop, prop) for prop in props])
        for prop, name in python.items():
            if counts[name] > 1:
                result[f"{class_name}.{prop}"] = prop if prop.isidentifier() else name
            else:
                result.setdefault(prop, name)
    return result


@functools.lru_cache(maxsize=8)
def _generate(schemas_json: str, aliases_json: str = "{}") -> str:
    """Run datamodel-code-generator on a minimal document that holds only the components.

    Only the components go in, so the output does not change when paths do. Cached per
    process: tests and repeated runs in one interpreter pay for it once."""
    from datamodel_code_generator import generate
    from datamodel_code_generator.enums import DataModelType, InputFileType
    from datamodel_code_generator.format import PythonVersion

    document = {
        "openapi": "3.0.3",
        "info": {"title": "components", "version": "0"},
        "paths": {},
        "components": {"schemas": json.loads(schemas_json)},
    }
    with warnings.catch_warnings():
        # WHY: its deprecation notices are for its own CLI users, and pytest turns them into errors.
        warnings.simplefilter("ignore")
        result = generate(
            json.dumps(document),
            input_file_type=InputFileType.OpenAPI,
            output_model_type=DataModelType.PydanticV2BaseModel,
            target_python_version=PythonVersion.PY_311,
            strict_nullable=True,
            disable_timestamp=True,
            use_schema_description=True,
            use_field_description=True,
            use_standard_collections=True,
            use_union_operator=True,
            use_annotated=True,
            field_constraints=True,
            use_double_quotes=True,
            # WHY: a default of an enum-typed field is the enum member (`E.a`), not its bare
            # value, which mypy refuses as an assignment of `str` to `E`.
            set_default_enum_member=True,
            # WHY: with it, datamodel-code-generator renames a member that would shadow a method
            # of the value type (`count` → `count_` in a StrEnum), which mypy refuses.
            use_subclass_enum=True,
            use_enum_values_in_discriminator=True,
            formatters=[],
            # No read_only_write_only_model_type: its ThingRequest keeps `parent: Thing`. The
            # request and response variants are components of the type model instead.
            aliases=json.loads(aliases_json),
            # WHY: pydantic's EmailStr needs the optional email-validator package.
            # WHY: and `duration` would be timedelta, whose spec defaults ("1h") mypy and
            # pydantic refuse; the wire value is a string either way.
            # WHY: and `byte` would be Base64Str, which refuses base64 of bytes that are not
            # UTF-8; Base64Bytes decodes leniently (b64decode drops foreign characters) and
            # encodes canonically, so the value sent back is not the one received. The request
            # validator does not check `byte` either: a str is what both sides accept.
            type_mappings=["email=string", "idn-email=string", "duration=string", "byte=string"],
        )
    if not isinstance(result, str):
        raise TypeError("datamodel-code-generator returned several modules for one document")
    # Its own banner names stdin; our header replaces it.
    # WHY: descriptions from the spec carry trailing spaces, which ruff reports (W291);
    # in a docstring or comment they mean nothing.
    lines = [line.rstrip() for line in result.splitlines()]
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines) + "\n"
