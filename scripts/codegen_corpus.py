"""Run ``python -m codegen`` on every document of a corpus of real OpenAPI specs.

``.venv/bin/python scripts/codegen_corpus.py [--lenient] [--only NAME ...] [DIR]``

For each document, in a fresh temporary project: generate, then (when that worked) import the
package, run ruff and mypy on it, and regenerate with ``--check``. A document passes when all
of that succeeds, or when codegen exits 2 with located errors and no traceback. Prints a table;
exits 1 if any document fails."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The corpus sits in shared/ beside the repository; CODEGEN_CORPUS points elsewhere.
CORPUS = Path(
    os.environ.get("CODEGEN_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "specs")
)
PYTHON = sys.executable
PACKAGE = "gen.api"
PYPROJECT = f"""\
[tool.codegen]
spec = "openapi.yaml"
package = "{PACKAGE}"

[tool.ruff]
line-length = 100
target-version = "py311"
"""
MYPY_INI = """\
[mypy]
strict = True
plugins = pydantic.mypy
[mypy-connexion.*,a2wsgi.*,uvicorn_worker.*,gunicorn.*]
ignore_missing_imports = True
[mypy-runtime.*]
follow_imports = silent
"""
SUFFIXES = (".yaml", ".yml", ".json")
IMPORT_ALL = (
    f"import importlib, pkgutil, {PACKAGE}\n"
    f"for m in pkgutil.walk_packages({PACKAGE}.__path__, '{PACKAGE}.'):\n"
    "    importlib.import_module(m.name)\n"
)
# Shared by every document: a cold mypy spends ~40 s on pydantic and flask alone.
MYPY_CACHE = str(Path(tempfile.gettempdir()) / "codegen-corpus-mypy-cache")


@dataclass(frozen=True)
class Outcome:
    document: str
    result: str
    seconds: float
    files: int
    summary: str

    @property
    def passed(self) -> bool:
        return self.result in ("generated", "rejected")


def _run(command: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": f"{cwd}:{ROOT}", "MYPYPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(  # noqa: S603  # nosec B603 - fixed commands of this environment
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def _first_error(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("warning:")]
    summary = errors[-1] if errors else ""
    detail = errors[0] if errors else ""
    return f"{detail[:110]} … {summary[:60]}" if len(errors) > 1 else detail[:170]


def run_one(spec: Path, *, lenient: bool, deep: bool) -> Outcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codegen-corpus-") as scratch:
        project = Path(scratch)
        (project / "pyproject.toml").write_text(PYPROJECT)
        (project / "mypy.ini").write_text(MYPY_INI)
        (project / "openapi.yaml").write_bytes(spec.read_bytes())
        flags = ["--lenient"] if lenient else []
        generated = _run([PYTHON, "-m", "codegen", *flags], project)

        def done(result: str, summary: str = "") -> Outcome:
            files = len(list((project / "gen").rglob("*.py"))) if (project / "gen").exists() else 0
            return Outcome(spec.name, result, time.perf_counter() - start, files, summary)

        if "Traceback" in generated.stderr:
            return done("CRASH", _first_error(generated.stderr))
        if generated.returncode == 2:
            located = all(
                line.startswith(("#", "warning:", "codegen:"))
                for line in generated.stderr.splitlines()
                if line.strip()
            )
            return done("rejected" if located else "UNLOCATED", _first_error(generated.stderr))
        if generated.returncode != 0:
            return done(f"EXIT {generated.returncode}", _first_error(generated.stderr))
        if not deep:
            return done("generated", "not type-checked (--shallow)")
        mypy = [PYTHON, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", MYPY_CACHE]
        checks = [
            ("IMPORT", [PYTHON, "-c", IMPORT_ALL]),
            ("RUFF", [PYTHON, "-m", "ruff", "check", "--no-cache", "--select", "E,F,W", "gen"]),
            ("MYPY", [*mypy, "-p", PACKAGE]),
            ("STALE", [PYTHON, "-m", "codegen", "--check", *flags]),
        ]
        for name, command in checks:
            result = _run(command, project)
            stale_only = (
                name == "STALE" and result.returncode == 1 and "up to date" in result.stdout
            )
            if result.returncode != 0 and not stale_only:
                return done(f"{name} FAILED", _first_error(result.stdout + result.stderr))
        return done("generated")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--lenient", action="store_true", help="pass --lenient to codegen")
    parser.add_argument("--only", nargs="*", default=None, help="document names to run")
    parser.add_argument("--shallow", action="store_true", help="skip import, ruff and mypy")
    args = parser.parse_args()
    specs = sorted(p for p in args.directory.iterdir() if p.suffix in SUFFIXES)
    if args.only:
        specs = [p for p in specs if p.name in args.only or p.stem in args.only]
    outcomes = []
    print("| document | result | seconds | files | error summary |\n|---|---|---:|---:|---|")
    for spec in specs:
        outcome = run_one(spec, lenient=args.lenient, deep=not args.shallow)
        outcomes.append(outcome)
        summary = outcome.summary.replace("|", "\\|")
        print(
            f"| {outcome.document} | {outcome.result} | {outcome.seconds:.1f} | "
            f"{outcome.files} | {summary} |",
            flush=True,
        )
    failed = [o.document for o in outcomes if not o.passed]
    print(
        f"\n{len(outcomes) - len(failed)}/{len(outcomes)} passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
