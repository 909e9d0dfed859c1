"""``python -m codegen``: the command line; the stages are in ``codegen.pipeline``."""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from codegen import __version__
from codegen.errors import CodegenError, ConfigError, SpecError
from codegen.pipeline import Settings, run

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
