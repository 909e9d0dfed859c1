"""The stages in order: document → validation → IR → render → format → write.

``__main__`` turns the command line into ``Settings``; everything after that is here."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegen.errors import EXIT_OK, EXIT_STALE, Issue, SpecError

if TYPE_CHECKING:
    from codegen.document import LoadedSpec
    from codegen.write import OutputFile, Plan


@dataclass(frozen=True)
class Settings:
    """What to run on which spec, from the command line over ``[tool.codegen]``."""

    spec: Path
    package: str
    root: Path
    check: bool
    force: bool
    lenient: bool = False
    command: str | None = None
    old: str | None = None
    new: str | None = None


def _load(options: Settings) -> tuple[LoadedSpec, Mapping[str, Any]]:
    """The spec, repaired when --lenient, validated, and with class names for components."""
    from codegen import document, prepare, spec

    loaded = document.load(options.spec)
    warnings: list[Issue] = list(loaded.warnings)
    if options.lenient:
        data, repairs = prepare.lenient(loaded.data)
        warnings += repairs
        loaded = replace(loaded, data=data)
    # Lint reads the document as written: a derived operationId is still a finding.
    as_written = loaded.data
    data, decisions = prepare.normalize(as_written)
    loaded = replace(loaded, data=data)
    for warning in [*warnings, *decisions]:
        print(f"warning: {warning}", file=sys.stderr)
    issues = spec.validate(loaded.data)
    if issues:
        raise SpecError(issues)
    for warning in spec.request_body_choices(loaded.data):
        print(f"warning: {warning}", file=sys.stderr)
    data = prepare.rename_components(prepare.inline_inner_refs(loaded.data))
    return replace(loaded, data=data), as_written


def _lint(options: Settings, data: Mapping[str, Any] | None = None) -> int:
    from codegen import document
    from codegen.checks.lint import lint

    findings = lint(data if data is not None else document.load(options.spec).data)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"codegen lint: {len(findings)} finding(s)", file=sys.stderr)
        return EXIT_STALE
    if options.command == "lint":
        print("codegen lint: no findings")
    return EXIT_OK


def _diff(options: Settings) -> int:
    from codegen.checks.diff import gate, load_document

    assert options.old is not None
    old = load_document(options.old, root=options.root)
    new = load_document(options.new or str(options.spec), root=options.root)
    changes, passes = gate(old, new)
    for change in changes:
        print(change)
    breaking = sum(c.breaking for c in changes)
    verdict = "passes" if passes else "fails: bump the major number of info.version"
    print(f"codegen diff: {len(changes)} change(s), {breaking} breaking; {verdict}")
    return EXIT_OK if passes else EXIT_STALE


def run(options: Settings) -> int:
    """The pipeline; raises ``CodegenError`` for every failure that has an exit code."""
    if options.command == "lint":
        return _lint(options)
    if options.command == "diff":
        return _diff(options)
    from codegen import ir, write
    from codegen.format import format_sources
    from codegen.render import render

    loaded, original = _load(options)
    api = ir.build(loaded)
    for warning in api.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    spec_name = _display_name(options.spec, options.root)
    sources = render(api, loaded.data, package=options.package, spec_name=spec_name)
    # The header's length does not depend on the content it hashes: any stands in for it.
    stand_in = write.with_header("", spec_name=spec_name)
    formatted = format_sources(
        {
            source.path: stand_in + source.text if source.owned else source.text
            for source in sources
        },
        root=options.root,
        first_party=[options.package.split(".")[0], "runtime"],
    )
    outputs = []
    for source in sources:
        text = formatted[source.path]
        if source.owned:
            text = write.with_header(text.partition("\n")[2], spec_name=spec_name)
        outputs.append(write.OutputFile(source.path, text, source.owned))
    outputs += _monitoring(loaded, spec_name)
    package_dir = options.package.replace(".", "/")
    plan = write.plan(options.root, package_dir, outputs, force=options.force)
    if options.check:
        linted = _lint(options, original)
        if not plan.stale:
            print("codegen: up to date")
            return linted
        sys.stdout.write(write.diff(plan))
        stale = len(plan.write) + len(plan.scaffold) + len(plan.remove)
        print(f"codegen: {stale} file(s) out of date; run `python -m codegen`", file=sys.stderr)
        return EXIT_STALE
    write.refuse_hand_edits(plan)
    write.apply(plan)
    print(plan.summary())
    for line in next_steps(plan):
        print(line)
    return EXIT_OK


def next_steps(plan: Plan) -> list[str]:
    """What a person does after codegen scaffolded a new domain: the parts it cannot write."""
    lines = []
    for output in sorted(plan.scaffold, key=lambda o: o.path):
        folder, _, name = output.path.rpartition("/")
        if name != "service.py":
            continue
        lines += [
            f"next, for the new domain {folder}/:",
            f"  - implement {folder}/service.py: each operation raises NotImplementedError "
            "(answered 501) until then; mypy checks it against the Protocol in routes.py",
            f"  - define its tables in {folder}/models.py and write the migration that creates "
            "them",
            "  - test the operations through HTTP",
        ]
    return lines


def _monitoring(loaded: LoadedSpec, spec_name: str) -> list[OutputFile]:
    """Rules, alert routes and a dashboard from ``x-slo``; none without it."""
    from codegen import monitoring, slo, write

    objectives = slo.build(loaded.data)
    if objectives is None:
        return []
    title = str(loaded.data.get("info", {}).get("title", objectives.job))
    return [
        write.OutputFile(
            path,
            write.with_header(text, spec_name=spec_name, path=path),
            owned=True,
        )
        for path, text in monitoring.render(objectives, title).items()
    ]


def _display_name(spec: Path, root: Path) -> str:
    try:
        return spec.relative_to(root).as_posix()
    except ValueError:
        return spec.name
