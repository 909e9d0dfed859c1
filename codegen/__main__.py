"""``python -m codegen``: load → validate → IR → render → format → write."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegen import __version__
from codegen.errors import (
    EXIT_OK,
    EXIT_STALE,
    CodegenError,
    ConfigError,
    SpecError,
)

_DESCRIPTION = """\
Generate typed Flask route adapters, request/response models and a service Protocol per
domain from an OpenAPI 3.0 spec. Settings come from [tool.codegen] in pyproject.toml
(spec, package); options override them.

exit codes:
  0  success (or, with --check, everything is up to date)
  1  --check found stale files (a unified diff is printed)
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
        help="write nothing; exit 1 with a diff if any file on disk is stale",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite or remove generated files even if they were edited by hand",
    )
    parser.add_argument("--version", action="version", version=f"codegen {__version__}")
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
    return Settings(
        spec=spec.resolve(), package=package, root=root, check=args.check, force=args.force
    )


def run(options: Settings) -> int:
    """The pipeline; raises ``CodegenError`` for every failure that has an exit code."""
    from codegen import ir, spec, write
    from codegen.format import format_sources
    from codegen.render import render

    loaded = spec.load(options.spec)
    issues = spec.validate(loaded.data)
    if issues:
        raise SpecError(issues)
    api = ir.build(loaded)
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
    package_dir = options.package.replace(".", "/")
    plan = write.plan(options.root, package_dir, outputs, force=options.force)
    if options.check:
        if not plan.stale:
            print("codegen: up to date")
            return EXIT_OK
        sys.stdout.write(write.diff(plan))
        stale = len(plan.write) + len(plan.scaffold) + len(plan.remove)
        print(f"codegen: {stale} file(s) out of date; run `python -m codegen`", file=sys.stderr)
        return EXIT_STALE
    write.refuse_hand_edits(plan)
    write.apply(plan)
    print(plan.summary())
    return EXIT_OK


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
