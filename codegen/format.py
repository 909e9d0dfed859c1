"""Format generated text with ruff, so the output is exactly what ``ruff format`` would keep."""

from __future__ import annotations

import importlib
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from codegen.errors import FormatError


def ruff_binary() -> str:
    """The ruff executable of this environment (the pinned one, not whatever is on PATH)."""
    # ruff ships no type information; importing by name keeps mypy --strict quiet without an ignore.
    module = importlib.import_module("ruff.__main__")
    return str(module.find_ruff_bin())


def ruff_config(root: Path) -> Path | None:
    """The ruff config that governs ``root``, found the way ruff itself looks for it."""
    for directory in (root, *root.parents):
        for name in (".ruff.toml", "ruff.toml"):
            if (directory / name).is_file():
                return directory / name
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.ruff" in pyproject.read_text("utf-8", errors="replace"):
            return pyproject
    return None


def format_sources(
    sources: dict[str, str], *, root: Path, first_party: Sequence[str]
) -> dict[str, str]:
    """Sort imports and format every text (keyed by its path relative to ``root``).

    All files go through two ruff runs in a scratch directory rather than two per file: the
    per-process start-up dominated ``--check``. ``first_party`` names the top-level packages
    isort must treat as first-party; left to itself, ruff decides by what exists on disk, which
    differs between a first and a second run. A text's lines are judged as they stand, so an
    owned file comes with its header line (of the final length) already in place."""
    binary = ruff_binary()
    known = ", ".join(f'"{name}"' for name in sorted(set(first_party)))
    options = ["--no-cache", "--config", f"lint.isort.known-first-party = [{known}]"]
    config = ruff_config(root)
    options += ["--config", str(config)] if config is not None else ["--isolated"]
    with tempfile.TemporaryDirectory(prefix="codegen-") as scratch:
        base = Path(scratch)
        for relative, text in sources.items():
            target = base / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        files = [str(base / relative) for relative in sources]
        _run([binary, "check", "--select", "I", "--fix-only", "--exit-zero", *options, *files])
        _run([binary, "format", *options, *files])
        # WHY: a file-level noqa the project's rules never trigger (a long line only some
        # files have, a rule the project does not select) is itself a finding, RUF100.
        prune = ["--extend-select", "RUF100", "--fixable", "RUF100", "--fix-only", "--exit-zero"]
        _run([binary, "check", *prune, *options, *files])
        return {
            relative: _drop_stale_reasons((base / relative).read_text(encoding="utf-8"))
            for relative in sources
        }


_NOQA = re.compile(r"^# ruff: noqa: (.*)$", re.M)
_REASON = re.compile(r"^# ([A-Z]+[0-9]+): .*\n", re.M)


def _drop_stale_reasons(text: str) -> str:
    """Without the reason lines of exemptions the pruning removed (all, with the noqa line)."""
    header, docstring, rest = text.partition('"""')
    noqa = _NOQA.search(header)
    kept = set(re.findall(r"[A-Z]+[0-9]+", noqa.group(1))) if noqa else set()
    header = _REASON.sub(lambda m: m.group(0) if m.group(1) in kept else "", header)
    return header + docstring + rest


def _run(command: list[str]) -> None:
    # WHY: safe to run: a fixed argument list (ruff's own binary), no shell, no user input.
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if result.returncode != 0:
        raise FormatError(
            ["ruff could not format the generated code (a codegen bug):"]
            + [line for line in result.stderr.splitlines() if line.strip()]
        )
