"""The small real-world documents of the corpus: generated, or refused with located errors.

The full corpus (import, ruff, mypy, regeneration of all 19 documents) is `nox -s corpus`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.unit.codegen.kit import make_project, run, tree

REPO = Path(__file__).resolve().parents[3]


def _corpus() -> Path:
    """``CODEGEN_CORPUS``, else shared/specs beside the clone (CI) or beside its worktree
    folder (``/work/wt/<name>`` next to ``/work/shared``); the first that exists."""
    if "CODEGEN_CORPUS" in os.environ:
        return Path(os.environ["CODEGEN_CORPUS"])
    candidates = [REPO.parent / "shared" / "specs", REPO.parent.parent / "shared" / "specs"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


CORPUS = _corpus()
SMALL = sorted(p.name for p in CORPUS.glob("*.y*ml") if p.stat().st_size < 30_000)


def test_the_corpus_is_present_in_ci() -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        assert SMALL, f"no corpus documents under {CORPUS}"


@pytest.mark.skipif(not SMALL, reason="the spec corpus is not available here")
@pytest.mark.parametrize("document", SMALL)
def test_a_small_corpus_document_generates_or_fails_with_located_errors(
    document: str, tmp_path: Path
) -> None:
    root = make_project(tmp_path, "small.yaml")
    shutil.copyfile(CORPUS / document, root / "openapi.yaml")
    result = run(root)
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines[-1].endswith("error(s) in the spec; nothing written")
        assert all(line.startswith("#") for line in lines[:-1]), lines
        return
    assert result.exit_code == 0, result.stderr
    before = tree(root)
    again = run(root)
    assert again.exit_code == 0
    assert tree(root) == before
