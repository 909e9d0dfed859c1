"""Regenerate the codegen golden files: ``.venv/bin/python scripts/regen_golden.py``.

Review the resulting diff like any code change: it is exactly what the generator now emits."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.unit.codegen.kit import (  # noqa: E402 - needs the repo root on sys.path first
    GOLDEN,
    GOLDEN_CASES,
    GOLDEN_SUFFIX,
    PACKAGE_DIR,
    make_project,
    run,
    tree,
)


def regenerate(case: str) -> int:
    with tempfile.TemporaryDirectory() as scratch:
        project = make_project(Path(scratch) / case, f"{case}.yaml")
        result = run(project)
        if result.exit_code != 0:
            sys.stderr.write(result.stderr)
            return result.exit_code
        target = GOLDEN / case
        shutil.rmtree(target, ignore_errors=True)
        for name, content in tree(project / PACKAGE_DIR).items():
            path = target / PACKAGE_DIR / f"{name}{GOLDEN_SUFFIX}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        print(f"{case}: {len(list(target.rglob('*' + GOLDEN_SUFFIX)))} golden files")
    return 0


def main() -> int:
    for case in GOLDEN_CASES:
        if code := regenerate(case):
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
