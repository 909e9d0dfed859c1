"""``python -m codegen``: load → validate → IR → render → format → write."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegen import __version__
from codegen.errors import (
    EXIT_OK,
    EXIT_STALE,
    CodegenError,
    ConfigError,
    Issue,
    SpecError,
)

if TYPE_CHECKING:
    from codegen.spec import LoadedSpec
    from codegen.write import OutputFile

_DESCRIPTION = """\
Generate typed Flask route adapters, request/response models and a service Protocol per
domain from an OpenAPI 3.0 spec. Settings come from [tool.codegen] in pyproject.toml
(spec, package); options override them.

commands:
  (none)  generate; with --check, verify instead (and lint)
  lint    check the spec against the API conventions (docs/CODEGEN.md lists the rules)
  diff    classify the changes between two specs as breaking or not (the breaking-change gate)
  Run `python -m codegen COMMAND --help` for a command's options.

exit codes:
  0  success (or, with --check, everything is up to date and the spec passes lint)
  1  --check found stale files (a unified diff is printed) or lint findings;
     lint found something; diff found a breaking change without a major version bump
  2  the spec is invalid or uses an unsupported construct (one line per error)
  3  a generated file was edited by hand; nothing was written (see --force)
  4  internal error (ruff failed on generated code)
"""


@dataclass(frozen=True)
class Settings:
    spec: Path
    package: str
    root: Path
    check: bool
    force: bool
    lenient: bool = False
    command: str | None = None
    old: str | None = None
    new: str | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m codegen",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--spec", type=Path, help="the OpenAPI file (default: [tool.codegen] spec, openapi.yaml)"
    )
    parser.add_argument(
        "--package",
        help="dotted package the code goes into (default: [tool.codegen] package, app.modules)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="root directory the package path lives under (default: the directory of "
        "pyproject.toml, else the current directory)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if any file on disk is stale, or with the "
        "findings if the spec fails lint",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite or remove generated files even if they were edited by hand",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="repair common mistakes of third-party specs before validating (a default or an "
        "enum value of the wrong JSON type, duplicate enum values), with one warning each; "
        "the spec on disk stays as it is",
    )
    parser.add_argument("--version", action="version", version=f"codegen {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    lint = commands.add_parser(
        "lint",
        help="check the spec against the API conventions",
        description="Check the spec against the API conventions; exit 1 on any finding. "
        "Switch a rule off per operation with x-lint-ignore: [{rule: ID, reason: ...}].",
    )
    lint.add_argument("--spec", type=Path, dest="lint_spec", help="the OpenAPI file to lint")
    diff = commands.add_parser(
        "diff",
        help="classify changes between two specs as breaking or not",
        description="Compare OLD with NEW and list every change; exit 1 on a breaking change "
        "unless the major number of info.version went up. OLD and NEW are files, "
        "git:REF:path, or a git ref (meaning the spec file at that ref).",
    )
    diff.add_argument("old", help="the spec before: a file, git:REF:path, or a git ref (main)")
    diff.add_argument(
        "new", nargs="?", default=None, help="the spec after (default: the spec file on disk)"
    )
    return parser


def _find_pyproject(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def settings(argv: Sequence[str] | None = None) -> Settings:
    """Options from the command line over ``[tool.codegen]`` over defaults."""
    args = _parser().parse_args(argv)
    cwd = Path.cwd()
    pyproject = _find_pyproject(cwd)
    config: dict[str, object] = {}
    if pyproject is not None:
        try:
            config = tomllib.loads(pyproject.read_text("utf-8")).get("tool", {}).get("codegen", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{pyproject}: invalid TOML: {exc}") from None
    base = pyproject.parent if pyproject is not None else cwd
    root = (args.out if args.out is not None else base).resolve()
    spec = args.spec if args.spec is not None else base / str(config.get("spec", "openapi.yaml"))
    package = args.package or str(config.get("package", "app.modules"))
    if not all(part.isidentifier() for part in package.split(".")):
        raise ConfigError(f"package {package!r} is not a dotted Python package name")
    if getattr(args, "lint_spec", None) is not None:
        spec = args.lint_spec
    return Settings(
        spec=spec.resolve(),
        package=package,
        root=root,
        check=args.check,
        force=args.force,
        lenient=args.lenient,
        command=args.command,
        old=getattr(args, "old", None),
        new=getattr(args, "new", None),
    )


def _load(options: Settings) -> tuple[LoadedSpec, Mapping[str, Any]]:
    """The spec, repaired when --lenient, validated, and with class names for components."""
    from codegen import prepare, spec

    loaded = spec.load(options.spec)
    warnings: list[Issue] = []
    if options.lenient:
        data, warnings = prepare.lenient(loaded.data)
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
    from codegen import spec
    from codegen.lint import lint

    findings = lint(data if data is not None else spec.load(options.spec).data)
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"codegen lint: {len(findings)} finding(s)", file=sys.stderr)
        return EXIT_STALE
    if options.command == "lint":
        print("codegen lint: no findings")
    return EXIT_OK


def _diff(options: Settings) -> int:
    from codegen.diff import gate, load_document

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
    formatted = format_sources(
        {source.path: source.text for source in sources},
        root=options.root,
        first_party=[options.package.split(".")[0], "runtime"],
    )
    outputs = []
    for source in sources:
        text = formatted[source.path]
        if source.owned:
            text = write.with_header(text, spec_name=spec_name, spec_sha256=loaded.sha256)
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
    return EXIT_OK


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
            write.with_header(text, spec_name=spec_name, spec_sha256=loaded.sha256, path=path),
            owned=True,
        )
        for path, text in monitoring.render(objectives, title).items()
    ]


def _display_name(spec: Path, root: Path) -> str:
    try:
        return spec.relative_to(root).as_posix()
    except ValueError:
        return spec.name


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(settings(argv))
    except SpecError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        print(f"codegen: {len(exc.lines)} error(s) in the spec; nothing written", file=sys.stderr)
        return exc.exit_code
    except CodegenError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
