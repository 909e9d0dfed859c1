"""Render the IR into Python source text (unformatted; ``codegen.format`` runs ruff on it)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from codegen.components import render_components
from codegen.errors import Issue, SpecError, pointer
from codegen.ir import Api, Domain, Operation, Parameter, RequestBody, Response
from codegen.naming import connexion_kwarg, field_name
from codegen.policies import deadline_s, idempotency_key, rate_limits
from codegen.pysource import ascii_only, noqa_header
from codegen.typemap import Imports, TypeMapper, constraints

GROUP_SUFFIX = {"path": "Path", "query": "Query", "header": "Header", "cookie": "Cookie"}
_ROUTE_RESERVED = frozenset(
    {
        "parse",
        "render",
        "takes_body",
        "typed_body",
        "request_headers",
        "request_cookies",
        "caller",
        "optional_caller",
        "service",
        "flask",
        "Any",
        "Protocol",
    }
)
_SCHEMA_IMPORTED = frozenset(
    {"Any", "ClassVar", "Literal", "TypeAlias", "BaseModel", "ConfigDict", "Field", "RootModel"}
    | {"UUID", "date", "datetime", "RequestModel", "ParametersModel", "HeadersModel", "ApiResponse"}
    | {"FileStorage", "NoReturn"}
)
_RAW_BODY = {"text": ("str", '""'), "binary": ("bytes", 'b""')}
_FORM_HELPER = '''def _form(params: dict[str, Any], files: tuple[str, ...]) -> dict[str, Any]:
    """The form fields Connexion passes as ``body``, with the uploaded files it passes apart."""
    form = dict(params.get("body") or {})
    form.update({name: params[name] for name in files if name in params})
    return form'''


@dataclass(frozen=True)
class SourceFile:
    """One file to produce: path relative to the output root, unformatted text, and ownership."""

    path: str
    text: str
    owned: bool


def render(api: Api, spec: Mapping[str, Any], *, package: str, spec_name: str) -> list[SourceFile]:
    """Every generated and scaffold file, in a stable order."""
    package_dir = package.replace(".", "/")
    components_module = f"{package}.components"
    # The type model's document: the spec with every class-worthy schema a named component.
    spec = api.document or spec
    components = render_components(api.schemas, spec_name=spec_name, narrowed=api.narrowed)
    classes = frozenset(re.findall(r"^class (\w+)\b", components, re.M))
    files = [
        SourceFile(f"{package_dir}/__init__.py", _package_init(spec_name), owned=False),
        SourceFile(f"{package_dir}/components.py", components, owned=True),
        SourceFile(
            f"{package_dir}/operations.py", _operations(api, spec, package, spec_name), owned=True
        ),
    ]
    issues: list[Issue] = []
    for domain in api.domains:
        schemas = _SchemasModule(domain, spec, components_module, spec_name, classes)
        issues += schemas.issues
        base = f"{package_dir}/{domain.name}"
        files += [
            SourceFile(f"{base}/schemas.py", schemas.text, owned=True),
            SourceFile(
                f"{base}/routes.py", _routes(domain, spec, components_module, classes), owned=True
            ),
            SourceFile(f"{base}/__init__.py", f'"""The {domain.name} domain."""\n', owned=False),
            SourceFile(f"{base}/service.py", _service(domain, spec_name), owned=False),
            SourceFile(f"{base}/repo.py", _repo(domain), owned=False),
            SourceFile(f"{base}/models.py", _models(domain), owned=False),
        ]
        issues += _route_clashes(domain, spec)
    if issues:
        raise SpecError(issues)
    return [
        SourceFile(f.path, noqa_header(text) + text, owned=True)
        if f.owned
        else replace(f, text=ascii_only(f.text))
        for f in files
        for text in [ascii_only(f.text)]
    ]


def docstring(text: str, indent: str = "") -> str:
    """A triple-quoted docstring, wrapped to fit a 100-column line, safely escaped."""
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    width = max(40, 96 - len(indent))
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    wrapped = [textwrap.fill(p, width=width, break_long_words=False) for p in paragraphs]
    body = "\n\n".join(wrapped)
    lines = body.split("\n")
    if len(lines) == 1 and len(indent) + len(body) + 6 <= 100:
        return f'{indent}"""{body}"""'
    if len(lines) == 1:
        # WHY: one unbreakable word (a long path) fits the line limit only on a line of its own.
        return f'{indent}"""\n{indent}{body}\n{indent}"""'
    rest = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{rest}\n{indent}"""'


def operation_doc(operation: Operation) -> str:
    first = operation.summary or f"{operation.method} {operation.path}"
    if operation.deprecated:
        first = f"Deprecated. {first}"
    if operation.description:
        return f"{first}\n\n{operation.description}"
    return first


def _lines(lines: Sequence[str]) -> str:
    return "\n".join(lines) + "\n"


def _package_init(spec_name: str) -> str:
    return f'"""The API\'s domains: one subpackage per tag of {spec_name}."""\n'


def _operations(api: Api, spec: Mapping[str, Any], package: str, spec_name: str) -> str:
    entries = "\n".join(
        f'    "{op.operation_id}": "{package}.{op.domain}.routes:{op.python_name}",'
        for op in api.operations
    )
    policies = "\n".join(f"    {op.operation_id!r}: {_policy(op, spec)}," for op in api.operations)
    routes = "\n".join(
        f"    {op.operation_id!r}: ({op.method!r}, {op.path!r})," for op in api.operations
    )
    allowed = "\n".join(
        f"    {path!r}: {methods!r}," for path, methods in _methods_by_path(api).items()
    )
    return _lines(
        [
            f'"""Handler of each operationId of {spec_name}, for the runtime\'s resolver.',
            "",
            'The spec carries no Python paths; this mapping is the only link."""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping",
            "from typing import Final, TypedDict",
            "",
            "# The spec this registry was generated from; start-up refuses any other.",
            f'SPEC_SHA256: Final = "{api.spec_sha256}"',
            "",
            "# The path of the first server URL, before every route.",
            f"BASE_PATH: Final = {_base_path(spec)!r}",
            "",
            "OPERATIONS: Final[Mapping[str, str]] = {",
            entries,
            "}",
            "",
            "# operationId -> (method, path template below BASE_PATH).",
            "ROUTES: Final[Mapping[str, tuple[str, str]]] = {",
            routes,
            "}",
            "",
            "# Path template -> its methods, HEAD wherever GET is: a 405's Allow, and CORS.",
            "METHODS_BY_PATH: Final[Mapping[str, tuple[str, ...]]] = {",
            allowed,
            "}",
            "",
            "",
            "class RateLimitPolicy(TypedDict):",
            '    """``x-rate-limit``: limits like ``5/minute``, whose counter, and how to fail."""',
            "",
            "    limits: tuple[str, ...]",
            '    key: str  # "ip", "caller" or "body:<field>"',
            '    fail: str  # "open" or "closed": what to do when the counter store is down',
            "",
            "",
            "class OperationPolicy(TypedDict):",
            '    """What the runtime enforces for an operation, declared in the spec."""',
            "",
            '    authentication: str  # "required", "optional" or "none"',
            "    scopes: tuple[tuple[str, ...], ...]  # any one of these sets of scopes suffices",
            "    rate_limits: tuple[RateLimitPolicy, ...]  # every one must allow a request",
            "    idempotent: bool",
            '    idempotency_key: str  # "required", "optional" or "none"',
            "    require_if_match: bool  # a write without If-Match is a 428",
            "    deprecated: bool",
            "    deadline_s: float | None  # x-deadline; None: the REQUEST_DEADLINE_S setting",
            "",
            "",
            "POLICIES: Final[Mapping[str, OperationPolicy]] = {",
            policies,
            "}",
        ]
    )


def _base_path(spec: Mapping[str, Any]) -> str:
    servers = spec.get("servers") or [{"url": ""}]
    return urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")


def _methods_by_path(api: Api) -> dict[str, tuple[str, ...]]:
    methods: dict[str, set[str]] = {}
    for op in api.operations:
        methods.setdefault(op.path, set()).add(op.method)
    for found in methods.values():
        # WHY: Flask and Starlette answer HEAD wherever GET is, documented or not.
        if "GET" in found:
            found.add("HEAD")
    return {path: tuple(sorted(found)) for path, found in sorted(methods.items())}


def _policy(op: Operation, document: Mapping[str, Any]) -> str:
    scopes = tuple(
        tuple(sorted({scope for scopes in req.values() for scope in scopes}))
        for req in op.security or ()
    )
    rate = "".join(
        f"{{'limits': {limit.limits!r}, 'key': {limit.key!r}, 'fail': {limit.fail!r}}},"
        for limit in rate_limits(op.extensions, document)
    )
    return (
        f"{{'authentication': {op.authentication!r}, 'scopes': {scopes!r}, "
        f"'rate_limits': ({rate}), 'idempotent': {idempotency_key(op.extensions) != 'none'!r}, "
        f"'idempotency_key': {idempotency_key(op.extensions)!r}, "
        f"'require_if_match': {op.extensions.get('x-require-if-match') is True!r}, "
        f"'deprecated': {op.deprecated!r}, 'deadline_s': {deadline_s(op.extensions)!r}}}"
    )


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


class _SchemasModule:
    """The ``schemas.py`` of one domain: parameter groups, request and response types."""

    def __init__(
        self,
        domain: Domain,
        spec: Mapping[str, Any],
        components_module: str,
        spec_name: str,
        classes: frozenset[str],
    ) -> None:
        self.imports = Imports()
        self.types = TypeMapper(spec, self.imports, classes)
        self.request_types = TypeMapper(spec, self.imports, classes, variant="Request")
        self.response_types = TypeMapper(spec, self.imports, classes, variant="Response")
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
        self.text = _lines(head) + "\n\n".join(self.classes) + "\n"

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
        if op.request_body.kind in _RAW_BODY:
            return _RAW_BODY[op.request_body.kind][0]
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
        if kind in _RAW_BODY:
            return _RAW_BODY[kind][0]
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
        if files and _file_fields(types, schema):
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
            python = field_name(prop)
            while python in used:
                python += "_"
            used.add(python)
            is_required = prop in required
            default = "None"
            if not is_required and isinstance(prop_schema, dict) and "default" in prop_schema:
                default = types.default_expr(prop_schema, prop_schema["default"])
            annotation = types.type_of(prop_schema)
            if files and prop in _file_fields(types, schema):
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


def _file_fields(types: TypeMapper, schema: Mapping[str, Any]) -> list[str]:
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


def _route_clashes(domain: Domain, spec: Mapping[str, Any]) -> list[Issue]:
    return [
        Issue(
            pointer(("paths", op.path, op.method.lower(), "operationId")),
            f"unsupported construct: operationId {op.operation_id!r} gives the handler name "
            f"{op.python_name!r}, which routes.py needs for itself",
        )
        for op in domain.operations
        if op.python_name in _ROUTE_RESERVED or op.python_name.startswith("_")
    ]


def _request_arguments(
    op: Operation, spec: Mapping[str, Any], imports: Imports, classes: frozenset[str]
) -> list[str]:
    args = []
    for location, suffix in GROUP_SUFFIX.items():
        if not op.parameters_in(location):
            continue
        group = imports.add(".schemas", f"{op.class_prefix}{suffix}")
        source = "params"
        if location == "header":
            source = f"{imports.add('runtime.contract', 'request_headers')}()"
        elif location == "cookie":
            source = f"{imports.add('runtime.contract', 'request_cookies')}()"
        args.append(f"        {location}=parse({group}, {source}, location={location!r}),")
    body = op.request_body
    if body is not None and body.kind in _RAW_BODY:
        empty = _RAW_BODY[body.kind][1] if body.required else "None"
        args.append(f'        body=params.get("body") or {empty},')
    elif body is not None:
        mapper = TypeMapper(spec, Imports(), classes, variant="Request")
        component = request_component(mapper, body)
        if component is not None:
            imports.components.add(component)
            body_type = component
        else:
            body_type = imports.add(".schemas", f"{op.class_prefix}RequestBody")
        source = 'params.get("body")'
        if body.kind == "multipart":
            schema = mapper.target(body.schema or {})
            names = tuple(_file_fields(mapper, schema))
            source = f"_form(params, {names!r})"
        if body.kind == "json":
            # WHY: the runtime's body validator builds the declared model (takes_body) from
            # the body it decoded and checked; the adapter takes that instance as it is.
            parsed = f"{imports.add('runtime.contract', 'typed_body')}({body_type}, params)"
        else:
            parsed = f'parse({body_type}, {source}, location="body")'
        if not body.required and body.kind != "multipart":
            parsed = f'None if params.get("body") is None else {parsed}'
        args.append(f"        body={parsed},")
    if op.authentication == "required":
        args.append(f"        caller={imports.add('runtime.contract', 'caller')}(),")
    elif op.authentication == "optional":
        args.append(f"        caller={imports.add('runtime.contract', 'optional_caller')}(),")
    return args


def _json_body_type(arguments: list[str]) -> str | None:
    """The model of a JSON body argument (``typed_body(Model, params)``), if there is one."""
    for argument in arguments:
        found = re.search(r"typed_body\((\w+), params\)", argument)
        if found:
            return found.group(1)
    return None


def _routes(
    domain: Domain, spec: Mapping[str, Any], components_module: str, classes: frozenset[str]
) -> str:
    imports = Imports()
    imports.add("typing", "Any")
    imports.add("typing", "Protocol")
    imports.add("runtime.contract", "render")
    protocol = f"{domain.class_prefix}Service"
    methods: list[str] = []
    adapters: list[str] = []
    needs_form = False
    for op in domain.operations:
        request = imports.add(".schemas", f"{op.class_prefix}Request")
        response = imports.add(".schemas", f"{op.class_prefix}Response")
        doc = operation_doc(op)
        methods.append(
            "\n".join(
                [
                    f"    def {op.python_name}(self, request: {request}, /) -> {response}:",
                    docstring(doc, "        "),
                    "        ...",
                ]
            )
        )
        arguments = _request_arguments(op, spec, imports, classes)
        if any("parse(" in a for a in arguments):
            imports.add("runtime.contract", "parse")
        needs_form = needs_form or any("_form(" in a for a in arguments)
        call = f"{request}(\n" + "\n".join(arguments) + "\n    )" if arguments else f"{request}()"
        chosen = [
            imports.add(".schemas", f"{op.class_prefix}{r.name_suffix}")
            for r in op.typed_responses
            if r.status_range is not None
        ]
        if chosen:
            # WHY: a `default` or `4XX` response carries the status the service chose.
            ending = [
                f"    response = _service().{op.python_name}(request)",
                "    rendered = render(response)",
                f"    if isinstance(response, {' | '.join(chosen)}):",
                "        rendered.status_code = response.status",
                "    return rendered",
            ]
        else:
            ending = [f"    return render(_service().{op.python_name}(request))"]
        body_type = _json_body_type(arguments)
        if body_type is not None:
            decorator = f"@{imports.add('runtime.contract', 'takes_body')}({body_type})"
        adapters.append(
            "\n".join(
                [
                    *([decorator] if body_type is not None else []),
                    f"def {op.python_name}(**params: Any) -> flask.Response:",
                    docstring(doc, "    "),
                    f"    request = {call}",
                    *ending,
                ]
            )
        )
    relative = sorted((m, n) for m, n in imports.names if m == ".schemas")
    absolute = Imports(names={(m, n) for m, n in imports.names if m != ".schemas"})
    absolute.components = imports.components
    schema_names = ", ".join(n for _, n in relative)
    head = [
        docstring(
            f"Route adapters of the {domain.name} domain.\n\nEach turns Connexion's arguments "
            "into a typed request, calls the service, and renders its typed response."
        ),
        "",
        "from __future__ import annotations",
        "",
        "import flask",
        "",
        *absolute.lines(components_module),
        "",
        "from . import service",
        f"from .schemas import ({schema_names})",
        "",
        "",
        f"class {protocol}(Protocol):",
        docstring(f"What the hand-written {domain.name} service must provide.", "    "),
        "",
        "\n\n".join(methods),
        "",
        "",
        f"def _service() -> {protocol}:",
        "    return service.get_service()",
        "",
        "",
        "\n\n\n".join([*adapters, *([_FORM_HELPER] if needs_form else [])]),
    ]
    return _lines(head)


def _service(domain: Domain, spec_name: str) -> str:
    names = sorted(
        {f"{op.class_prefix}Request" for op in domain.operations}
        | {f"{op.class_prefix}Response" for op in domain.operations}
    )
    impl = f"{domain.class_prefix}ServiceImpl"
    methods = []
    for op in domain.operations:
        methods.append(
            "\n".join(
                [
                    f"    def {op.python_name}(",
                    f"        self, request: {op.class_prefix}Request, /",
                    f"    ) -> {op.class_prefix}Response:",
                    docstring(operation_doc(op).split("\n\n")[0], "        "),
                    _not_implemented(op),
                ]
            )
        )
    return _lines(
        [
            docstring(
                f"The {domain.name} service: the business rules behind the {domain.name} "
                f"operations of {spec_name}.\n\nWritten by hand; codegen created this file once "
                "and never touches it again."
            ),
            "",
            "from __future__ import annotations",
            "",
            f"from .schemas import ({', '.join(names)})",
            "",
            "",
            f"class {impl}:",
            docstring(
                f"Implements the {domain.class_prefix}Service protocol of routes.py.", "    "
            ),
            "",
            "\n\n".join(methods),
            "",
            "",
            f"def get_service() -> {impl}:",
            '    """The service the generated routes call."""',
            f"    return {impl}()",
        ]
    )


def _not_implemented(op: Operation) -> str:
    line = f"        raise NotImplementedError({f'{op.operation_id} is not implemented yet'!r})"
    # A message that does not fit the line limit is left out: the traceback names the method.
    return line if len(line) <= 100 else "        raise NotImplementedError"


def _repo(domain: Domain) -> str:
    return (
        docstring(
            f"Data access of the {domain.name} domain: every query lives here.\n\n"
            "Written by hand; the service takes the repository as an argument, so tests can pass a "
            "fake."
        )
        + "\n"
    )


def _models(domain: Domain) -> str:
    return (
        docstring(
            f"Persistence models (e.g. SQLAlchemy tables) of the {domain.name} domain.\n\n"
            "Written by hand; the API's shapes are in schemas.py, not here."
        )
        + "\n"
    )
