"""The reference application's settings: the runtime's, plus what this app adds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import NoDecode

from runtime import RuntimeSettings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = ROOT / "var" / "app.db"
# WHY: development only (production refuses to start without JWT_KEYS_FILE); under var/, which
# git ignores, so no key ever lands in the repository.
DEFAULT_KEY_RING_PATH = ROOT / "var" / "jwt-keys.json"


class Settings(RuntimeSettings):
    """Read from the environment (and ``NAME_FILE`` secrets) once, at start-up."""

    service_name: str = "projects-api"
    # WHY: an installed package (the container) has no repo root beside it; the image sets this.
    openapi_spec: Path = ROOT / "openapi.yaml"
    # Probes and scrapes: their successful access lines are sampled (LOG_PROBE_SAMPLE).
    log_quiet_operations: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["getLiveness", "getReadiness", "getMetrics"]
    )
    # How often the Redis cache of revocations is reloaded from PostgreSQL (docs/SECURITY.md).
    revocation_cache_refresh_s: int = Field(300, ge=10, le=3600)

    @property
    def sqlalchemy_url(self) -> str:
        return self.effective_database_url(DEFAULT_SQLITE_PATH)


def load_settings() -> Settings:
    return Settings.load()
