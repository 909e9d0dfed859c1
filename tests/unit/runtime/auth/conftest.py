from __future__ import annotations

from pathlib import Path

import pytest

from runtime.auth import KeyRing, KeyRingSource, TokenService
from runtime.testing import FakeClock

__all__ = ["AUDIENCE", "ISSUER", "NOW", "FakeClock"]

NOW = 1_750_000_000
ISSUER = "https://auth.example.test"
AUDIENCE = "https://api.example.test"


@pytest.fixture
def ring_path(tmp_path: Path) -> Path:
    path = tmp_path / "jwt-keys.json"
    KeyRing.generate(path)
    return path


@pytest.fixture
def source(ring_path: Path) -> KeyRingSource:
    # WHY: a zero interval makes every call look at the file, so tests see rotations at once.
    return KeyRingSource(ring_path, check_interval_s=0)


@pytest.fixture
def service(source: KeyRingSource) -> TokenService:
    return TokenService(source, issuer=ISSUER, audience=AUDIENCE, access_token_ttl_s=900)
