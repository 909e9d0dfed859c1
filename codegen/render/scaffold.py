"""The hand-owned files codegen writes once: package ``__init__``s, ``service.py``, ``repo.py``
and ``models.py`` stubs that people then fill in."""

from __future__ import annotations

from string import Template

from codegen.ir import Domain, Operation
from codegen.render.text import docstring, operation_doc

_SERVICE = Template('''\
$doc

from __future__ import annotations

from .schemas import ($names)


class $impl:
$impl_doc

$methods


def get_service() -> $impl:
    """The service the generated routes call."""
    return $impl()
''')

_METHOD = Template("""\
    def $name(
        self, request: ${prefix}Request, /
    ) -> ${prefix}Response:
$doc
$body""")


def package_init(spec_name: str) -> str:
    return f'"""The API\'s domains: one subpackage per tag of {spec_name}."""\n'


def domain_init(domain: Domain) -> str:
    return f'"""The {domain.name} domain."""\n'


def service(domain: Domain, spec_name: str) -> str:
    names = sorted(
        {f"{op.class_prefix}Request" for op in domain.operations}
        | {f"{op.class_prefix}Response" for op in domain.operations}
    )
    impl = f"{domain.class_prefix}ServiceImpl"
    methods = [
        _METHOD.substitute(
            name=op.python_name,
            prefix=op.class_prefix,
            doc=docstring(operation_doc(op).split("\n\n")[0], "        "),
            body=_not_implemented(op),
        )
        for op in domain.operations
    ]
    return _SERVICE.substitute(
        doc=docstring(
            f"The {domain.name} service: the business rules behind the {domain.name} "
            f"operations of {spec_name}.\n\nWritten by hand; codegen created this file once "
            "and never touches it again."
        ),
        names=", ".join(names),
        impl=impl,
        impl_doc=docstring(
            f"Implements the {domain.class_prefix}Service protocol of routes.py.", "    "
        ),
        methods="\n\n".join(methods),
    )


def _not_implemented(op: Operation) -> str:
    line = f"        raise NotImplementedError({f'{op.operation_id} is not implemented yet'!r})"
    # A message that does not fit the line limit is left out: the traceback names the method.
    return line if len(line) <= 100 else "        raise NotImplementedError"


def repo(domain: Domain) -> str:
    return (
        docstring(
            f"Data access of the {domain.name} domain: every query lives here.\n\n"
            "Written by hand; the service takes the repository as an argument, so tests can pass a "
            "fake."
        )
        + "\n"
    )


def models(domain: Domain) -> str:
    return (
        docstring(
            f"Persistence models (e.g. SQLAlchemy tables) of the {domain.name} domain.\n\n"
            "Written by hand; the API's shapes are in schemas.py, not here."
        )
        + "\n"
    )
