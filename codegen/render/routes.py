"""``<domain>/routes.py``: the service Protocol and one adapter per operation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from codegen.errors import Issue, pointer
from codegen.ir import Domain, Operation
from codegen.render.schemas import GROUP_SUFFIX, RAW_BODY, file_fields, request_component
from codegen.render.text import docstring, join_lines, operation_doc
from codegen.typemap import Imports, TypeMapper

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
_FORM_HELPER = '''def _form(params: dict[str, Any], files: tuple[str, ...]) -> dict[str, Any]:
    """The form fields Connexion passes as ``body``, with the uploaded files it passes apart."""
    form = dict(params.get("body") or {})
    form.update({name: params[name] for name in files if name in params})
    return form'''


def route_clashes(domain: Domain, spec: Mapping[str, Any]) -> list[Issue]:
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
    op: Operation, spec: Mapping[str, Any], imports: Imports, variants: Mapping[str, str]
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
    if body is not None and body.kind in RAW_BODY:
        empty = RAW_BODY[body.kind][1] if body.required else "None"
        args.append(f'        body=params.get("body") or {empty},')
    elif body is not None:
        mapper = TypeMapper(spec, Imports(), variants)
        component = request_component(mapper, body)
        if component is not None:
            imports.components.add(component)
            body_type = component
        else:
            body_type = imports.add(".schemas", f"{op.class_prefix}RequestBody")
        source = 'params.get("body")'
        if body.kind == "multipart":
            schema = mapper.target(body.schema or {})
            names = tuple(file_fields(mapper, schema))
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


def render_routes(
    domain: Domain,
    spec: Mapping[str, Any],
    components_module: str,
    variants: Mapping[str, str] | None = None,
) -> str:
    """The ``routes.py`` of one domain; ``variants`` names the request class of a component."""
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
        arguments = _request_arguments(op, spec, imports, variants or {})
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
    return join_lines(head)
