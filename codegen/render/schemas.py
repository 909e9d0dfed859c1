"""``<domain>/schemas.py``: parameter groups, request and response types of each operation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from codegen.errors import Issue, pointer
from codegen.ir import Domain, Operation, Parameter, RequestBody, Response
from codegen.naming import connexion_kwarg, field_name
from codegen.render.text import docstring, join_lines, operation_doc
from codegen.typemap import Imports, TypeMapper, constraints

GROUP_SUFFIX = {"path": "Path", "query": "Query", "header": "Header", "cookie": "Cookie"}
_SCHEMA_IMPORTED = frozenset(
    {"Any", "ClassVar", "Literal", "TypeAlias", "BaseModel", "ConfigDict", "Field", "RootModel"}
    | {"UUID", "date", "datetime", "RequestModel", "ParametersModel", "HeadersModel", "ApiResponse"}
    | {"FileStorage", "NoReturn"}
)
RAW_BODY = {"text": ("str", '""'), "binary": ("bytes", 'b""')}


def _field(
    name: str,
    annotation: str,
    *,
    required: bool,
    default: str = "None",
    alias: str | None = None,
    extra: Sequence[tuple[str, str]] = (),
    description: str | None = None,
) -> str:
    args = [] if required else [default]
    if alias is not None:
        args.append(f"alias={alias!r}")
    args += [f"{key}={value}" for key, value in extra]
    if description:
        args.append(f"description={' '.join(description.split())!r}")
    if not required and default == "None" and not annotation.endswith("| None"):
        annotation = f"{annotation} | None"
    if not args:
        return f"    {name}: {annotation}"
    if args == [default] and not required:
        return f"    {name}: {annotation} = {default}"
    return f"    {name}: {annotation} = Field({', '.join(args)})"


def parameter_alias(parameter: Parameter) -> str:
    """The key a parameter arrives under: Connexion's kwarg, the lowercased header, the cookie."""
    if parameter.location == "header":
        return parameter.name.lower()
    if parameter.location == "cookie":
        return parameter.name
    return connexion_kwarg(parameter.name)


class SchemasModule:
    """The ``schemas.py`` of one domain: parameter groups, request and response types."""

    def __init__(
        self,
        domain: Domain,
        spec: Mapping[str, Any],
        components_module: str,
        spec_name: str,
        variants: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.imports = Imports()
        self.types = TypeMapper(spec, self.imports)
        self.request_types = TypeMapper(
            spec, self.imports, variants.get("Request"), leaves_out="readOnly"
        )
        self.response_types = TypeMapper(
            spec, self.imports, variants.get("Response"), leaves_out="writeOnly"
        )
        self.classes: list[str] = []
        self.names: dict[str, str] = {}
        self.issues: list[Issue] = []
        for operation in domain.operations:
            self._operation(operation)
        for name in sorted(self.imports.components & set(self.names)):
            self.issues.append(
                Issue(
                    pointer(("components", "schemas", name)),
                    f"unsupported construct: component {name!r} has the name of a generated "
                    f"type of {self.names[name]!r}; rename the component",
                )
            )
        head = [
            docstring(
                f"Request and response types of the {domain.name} operations of {spec_name}."
            ),
            "",
            "from __future__ import annotations",
            "",
            *self.imports.lines(components_module),
            "",
        ]
        self.text = join_lines(head) + "\n\n".join(self.classes) + "\n"

    def _name(self, name: str, operation: Operation) -> str:
        if name in self.names or name in _SCHEMA_IMPORTED:
            self.issues.append(
                Issue(
                    pointer(("paths", operation.path, operation.method.lower(), "operationId")),
                    f"generated type name {name!r} is used twice; rename the operationId",
                )
            )
        self.names[name] = operation.operation_id
        return name

    def _operation(self, op: Operation) -> None:
        request_fields: list[str] = []
        for location, suffix in GROUP_SUFFIX.items():
            params = op.parameters_in(location)
            if not params:
                continue
            name = self._name(f"{op.class_prefix}{suffix}", op)
            base = self.imports.add("runtime.contract", "ParametersModel")
            lines = [
                f"class {name}({base}):",
                docstring(f"{location.capitalize()} parameters of {op.operation_id}.", "    "),
                "",
            ]
            lines += [self._parameter_field(p) for p in _unique_names(params)]
            self.classes.append("\n".join(lines))
            # WHY: a group of optional parameters (headers such as If-Match) may be left out
            # when a test or a job builds the request; an empty group is its valid value.
            optional = not any(p.required for p in params)
            request_fields.append(f"    {location}: {name}" + (f" = {name}()" if optional else ""))
        if op.request_body is not None:
            body_type = self._request_body_type(op)
            if op.request_body.required:
                request_fields.append(f"    body: {body_type}")
            else:
                request_fields.append(f"    body: {body_type} | None = None")
        if op.authentication != "none":
            principal = self.imports.add("runtime.contract", "Principal")
            optional = op.authentication == "optional"
            request_fields.append(
                f"    caller: {principal} | None = None" if optional else f"    caller: {principal}"
            )
        request = self._name(f"{op.class_prefix}Request", op)
        base = self.imports.add("runtime.contract", "RequestModel")
        self.classes.append(
            "\n".join(
                [
                    f"class {request}({base}):",
                    docstring(operation_doc(op), "    "),
                    "",
                    *request_fields,
                ]
            ).rstrip()
        )
        response_names = [self._response(op, r) for r in op.typed_responses]
        alias = self._name(f"{op.class_prefix}Response", op)
        self.imports.add("typing", "TypeAlias")
        if response_names:
            union = " | ".join(response_names)
        else:
            union = self.imports.add("typing", "NoReturn")
        self.classes.append(f"{alias}: TypeAlias = {union}")

    def _parameter_field(self, param: Parameter) -> str:
        annotation = self.types.type_of(param.schema)
        default = "None"
        if not param.required and param.has_default:
            default = self.types.default_expr(param.schema, param.default)
        return self._uses_field(
            _field(
                param.python_name,
                annotation,
                required=param.required,
                default=default,
                alias=parameter_alias(param),
                extra=constraints(param.schema),
                description=param.description,
            )
        )

    def _request_body_type(self, op: Operation) -> str:
        assert op.request_body is not None
        if op.request_body.kind in RAW_BODY:
            return RAW_BODY[op.request_body.kind][0]
        schema = op.request_body.schema or {}
        component = request_component(self.request_types, op.request_body)
        if component is not None:
            self.imports.components.add(component)
            return component
        name = self._name(f"{op.class_prefix}RequestBody", op)
        doc = op.request_body.description or f"Request body of {op.operation_id}."
        if op.request_body.kind == "multipart":
            schema = self.types.target(schema)
        self.classes.append(
            self._inline_model(
                name, schema, doc, self.request_types, files=op.request_body.kind == "multipart"
            )
        )
        return name

    def _response(self, op: Operation, response: Response) -> str:
        name = self._name(f"{op.class_prefix}{response.name_suffix}", op)
        self.imports.add("typing", "ClassVar")
        base = self.imports.add("runtime.contract", "ApiResponse")
        span = response.status_range
        lines = [
            f"class {name}({base}):",
            docstring(response.description or f"Response {response.status}.", "    "),
            "",
            f"    status_code: ClassVar[int] = {_default_status(response)}",
        ]
        if response.content_type is not None:
            lines.append(f"    content_type: ClassVar[str | None] = {response.content_type!r}")
            lines.append(f"    body: {self._response_body_type(op, response)}")
        if span is not None:
            field = self.imports.add("pydantic", "Field")
            lines.append(f"    status: int = {field}(ge={span[0]}, le={span[1]})")
        if response.headers:
            headers = self._name(f"{name}Headers", op)
            header_base = self.imports.add("runtime.contract", "HeadersModel")
            header_lines = [
                f"class {headers}({header_base}):",
                docstring(
                    f"Headers of the {response.status} response of {op.operation_id}.", "    "
                ),
                "",
            ]
            for header in response.headers:
                header_lines.append(
                    self._uses_field(
                        _field(
                            header.python_name,
                            self.types.type_of(header.schema),
                            required=header.required,
                            alias=header.name,
                            extra=constraints(header.schema),
                            description=header.description,
                        )
                    )
                )
            self.classes.append("\n".join(header_lines))
            if any(h.required for h in response.headers):
                lines.append(f"    headers: {headers}")
            else:
                lines.append(f"    headers: {headers} = {headers}()")
        self.classes.append("\n".join(lines))
        return name

    def _response_body_type(self, op: Operation, response: Response) -> str:
        from codegen.spec import body_kind

        schema = response.schema
        kind = body_kind(response.content_type or "")
        if kind in RAW_BODY:
            return RAW_BODY[kind][0]
        types = self.response_types
        if schema and types.component(schema) is None and _is_inline_object(schema):
            name = self._name(f"{op.class_prefix}{response.name_suffix}Body", op)
            doc = f"Body of the {response.status} response of {op.operation_id}."
            self.classes.append(self._inline_model(name, schema, doc, types))
            return name
        return types.type_of(schema)

    def _inline_model(
        self,
        name: str,
        schema: Mapping[str, Any],
        description: str,
        types: TypeMapper,
        *,
        files: bool = False,
    ) -> str:
        """A model for an inline body schema: fields for an object, a RootModel otherwise.

        In a multipart body, ``format: binary`` fields are the uploaded ``FileStorage``s."""
        doc = docstring(schema.get("description") or description, "    ")
        if not _is_inline_object(schema):
            root = self.imports.add("pydantic", "RootModel")
            return "\n".join([f"class {name}({root}[{types.type_of(schema)}]):", doc])
        base = self.imports.add("pydantic", "BaseModel")
        config = self.imports.add("pydantic", "ConfigDict")
        extra = ", extra='forbid'" if schema.get("additionalProperties") is False else ""
        if files and file_fields(types, schema):
            extra += ", arbitrary_types_allowed=True"
        lines = [
            f"class {name}({base}):",
            doc,
            "",
            f"    model_config = {config}(populate_by_name=True{extra})",
            "",
        ]
        required = set(schema.get("required") or ())
        used: set[str] = set()
        for prop, prop_schema in (schema.get("properties") or {}).items():
            if types.left_out(prop_schema):
                continue
            python = field_name(prop)
            while python in used:
                python += "_"
            used.add(python)
            is_required = prop in required
            default = "None"
            if not is_required and isinstance(prop_schema, dict) and "default" in prop_schema:
                default = types.default_expr(prop_schema, prop_schema["default"])
            annotation = types.type_of(prop_schema)
            if files and prop in file_fields(types, schema):
                storage = self.imports.add("werkzeug.datastructures", "FileStorage")
                annotation = f"list[{storage}]" if _is_array(prop_schema) else storage
            lines.append(
                self._uses_field(
                    _field(
                        python,
                        annotation,
                        required=is_required,
                        default=default,
                        alias=prop,
                        extra=constraints(prop_schema),
                        description=prop_schema.get("description"),
                    )
                )
            )
        return "\n".join(lines)

    def _uses_field(self, line: str) -> str:
        if "= Field(" in line:
            self.imports.add("pydantic", "Field")
        return line


def _default_status(response: Response) -> int:
    span = response.status_range
    if span is None:
        return int(response.status)
    return 500 if response.status == "default" else span[0]


def request_component(types: TypeMapper, body: RequestBody) -> str | None:
    """The component class a JSON or form body validates into, if its schema is one."""
    if body.kind not in ("json", "form"):
        return None
    component = types.component(body.schema or {})
    if component is None or types.is_enum_component(component):
        return None
    return types.variant_of(component)


def _is_binary(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("format") == "binary"


def _is_array(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "array"


def file_fields(types: TypeMapper, schema: Mapping[str, Any]) -> list[str]:
    """The properties of a multipart body that carry uploaded files."""
    result = []
    for prop, raw in (schema.get("properties") or {}).items():
        prop_schema = types.target(raw) if isinstance(raw, dict) else raw
        if _is_binary(prop_schema) or (
            _is_array(prop_schema) and _is_binary(types.target(prop_schema.get("items") or {}))
        ):
            result.append(str(prop))
    return result


def _is_inline_object(schema: Mapping[str, Any]) -> bool:
    return "$ref" not in schema and (
        schema.get("type") == "object" and isinstance(schema.get("properties"), dict)
    )


def _unique_names(params: Sequence[Parameter]) -> list[Parameter]:
    """Parameters with distinct Python names, suffixing ``_`` where two would collide."""
    seen: set[str] = set()
    result = []
    for param in params:
        name = param.python_name
        while name in seen:
            name += "_"
        seen.add(name)
        result.append(replace(param, python_name=name))
    return result
