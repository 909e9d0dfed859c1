"""Shared by the codegen tests and scripts/regen_golden.py: one way to lay out a sample project."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from codegen.__main__ import main

HERE = Path(__file__).parent
SPECS = HERE / "specs"
GOLDEN = HERE / "golden"
PACKAGE = "sample.api"
PACKAGE_DIR = "sample/api"
GOLDEN_CASES = ("small", "coverage")
# WHY: golden files are stored as .txt so the repo's linters do not judge them by the
# isort sections of a package ("sample") that only exists in the test's temporary project.
GOLDEN_SUFFIX = ".txt"

PYPROJECT = f"""\
[tool.codegen]
spec = "openapi.yaml"
package = "{PACKAGE}"

[tool.ruff]
line-length = 100
target-version = "py311"
"""


@dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


def make_project(root: Path, spec: str) -> Path:
    """A project directory with a pyproject.toml and ``specs/<spec>`` as its openapi.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    shutil.copyfile(SPECS / spec, root / "openapi.yaml")
    return root


def run(root: Path, *args: str) -> Result:
    """Run ``python -m codegen`` in-process in ``root`` (datamodel-code-generator stays warm)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        contextlib.chdir(root),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        code = main(list(args))
    return Result(code, stdout.getvalue(), stderr.getvalue())


def generate(root: Path, spec: str) -> Path:
    """``make_project`` and ``run``; a codegen failure fails the test with its stderr."""
    root = make_project(root, spec)
    result = run(root)
    assert result.exit_code == 0, result.stderr
    return root


@contextlib.contextmanager
def importable(root: Path) -> Iterator[Path]:
    """The generated package of ``root`` importable inside the block, and forgotten after it,
    so that the next project's ``sample`` is imported afresh."""
    top = PACKAGE.split(".")[0]
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
            del sys.modules[name]


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` (caches excepted), by posix path relative to it."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def golden_tree(case: str) -> dict[str, bytes]:
    """The expected package files of a golden case, by path relative to the package dir."""
    return {
        name.removesuffix(GOLDEN_SUFFIX): content
        for name, content in tree(GOLDEN / case / PACKAGE_DIR).items()
    }


MYPY_INI = """\
[mypy]
strict = True
plugins = pydantic.mypy
show_error_context = True
[pydantic-mypy]
init_typed = True
init_forbid_extra = True
[mypy-connexion.*,a2wsgi.*,uvicorn_worker.*,gunicorn.*]
ignore_missing_imports = True
[mypy-runtime.*]
follow_imports = silent
"""
REPO = HERE.parent.parent.parent


def mypy(root: Path) -> Result:
    """``mypy --strict`` on the generated package of ``root``, in a subprocess.

    The cache outlives the test run: a cold mypy spends ~40 s on pydantic and flask alone."""
    import os
    import subprocess
    import sys
    import tempfile

    cache = Path(tempfile.gettempdir()) / "codegen-tests-mypy-cache"
    (root / "mypy.ini").write_text(MYPY_INI)
    env = {**os.environ, "MYPYPATH": str(REPO)}
    command = [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", str(cache)]
    result = subprocess.run(
        [*command, "-p", PACKAGE], cwd=root, capture_output=True, text=True, env=env, check=False
    )
    return Result(result.returncode, result.stdout, result.stderr)
