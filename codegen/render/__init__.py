"""Render the IR into Python source text (unformatted; ``codegen.format`` runs ruff on it).

One module per output: ``components`` (the shared models, through datamodel-code-generator),
``registry`` (``operations.py``), ``schemas`` and ``routes`` (per domain), and ``scaffold``
(the hand-owned files written once)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from codegen.errors import Issue, SpecError
from codegen.ir import Api
from codegen.pysource import ascii_only, noqa_header
from codegen.render import scaffold
from codegen.render.components import render_components
from codegen.render.registry import render_registry
from codegen.render.routes import render_routes, route_clashes
from codegen.render.schemas import SchemasModule


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
    files = [
        SourceFile(f"{package_dir}/__init__.py", scaffold.package_init(spec_name), owned=False),
        SourceFile(f"{package_dir}/components.py", components, owned=True),
        SourceFile(
            f"{package_dir}/operations.py",
            render_registry(api, spec, package, spec_name),
            owned=True,
        ),
    ]
    issues: list[Issue] = []
    for domain in api.domains:
        schemas = SchemasModule(domain, spec, components_module, spec_name, api.variants)
        issues += schemas.issues
        base = f"{package_dir}/{domain.name}"
        files += [
            SourceFile(f"{base}/schemas.py", schemas.text, owned=True),
            SourceFile(
                f"{base}/routes.py",
                render_routes(domain, spec, components_module, api.variants.get("Request")),
                owned=True,
            ),
            SourceFile(f"{base}/__init__.py", scaffold.domain_init(domain), owned=False),
            SourceFile(f"{base}/service.py", scaffold.service(domain, spec_name), owned=False),
            SourceFile(f"{base}/repo.py", scaffold.repo(domain), owned=False),
            SourceFile(f"{base}/models.py", scaffold.models(domain), owned=False),
        ]
        issues += route_clashes(domain, spec)
    if issues:
        raise SpecError(issues)
    return [
        SourceFile(f.path, noqa_header(text) + text, owned=True)
        if f.owned
        else replace(f, text=ascii_only(f.text))
        for f in files
        for text in [ascii_only(f.text)]
    ]
