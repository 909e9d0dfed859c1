"""Fixtures of the end-to-end suites that need the image."""

from __future__ import annotations

import os

import pytest

from tests.e2e.image import build_image


@pytest.fixture(scope="session")
def built_image() -> str:
    """The project's image, built once per test session from the working tree (or TEST_IMAGE,
    an image already built, to test a release as it was shipped)."""
    return os.environ.get("TEST_IMAGE") or build_image()
