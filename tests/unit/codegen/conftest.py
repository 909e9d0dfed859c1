"""Fixtures of the codegen tests: one generation of the small spec, shared and copied."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.codegen.kit import generate


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project generated once from specs/small.yaml; copy it before changing anything."""
    return generate(tmp_path_factory.mktemp("generated"), "small.yaml")


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the generated project, free to edit."""
    return Path(shutil.copytree(generated, tmp_path / "project"))
