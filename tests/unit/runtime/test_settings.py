from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import ValidationError

from runtime.settings import ConfigurationError, RuntimeSettings


def test_defaults_suit_development(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    settings = RuntimeSettings()
    assert settings.environment == "development"
    assert settings.swagger_ui_enabled and settings.auto_migrate_enabled
    assert settings.effective_database_url(tmp_path / "var" / "app.db").startswith("sqlite:///")


def test_production_refuses_sqlite_and_missing_redis_naming_each_setting() -> None:
    with pytest.raises(ValidationError) as caught:
        RuntimeSettings(environment="production", database_url="sqlite:///x.db")
    message = str(caught.value)
    assert "DATABASE_URL points at SQLite" in message
    assert "REDIS_URL is missing" in message


PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql+psycopg2://db/app",
    "redis_url": "redis://cache:6379/0",
    "jwt_keys_file": "/run/secrets/jwt-keys.json",
}
FINGERPRINT_KEY = "a-fingerprint-key-of-32-chars-ok"


def test_production_with_postgres_and_redis_starts_without_swagger_ui() -> None:
    settings = RuntimeSettings(**PRODUCTION, idempotency_fingerprint_key=FINGERPRINT_KEY)
    assert not settings.swagger_ui_enabled
    assert not settings.auto_migrate_enabled


@pytest.mark.parametrize("key", [None, "", FINGERPRINT_KEY[:31]], ids=["missing", "empty", "31"])
def test_production_refuses_a_missing_or_short_fingerprint_key(
    monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.delenv("IDEMPOTENCY_FINGERPRINT_KEY", raising=False)
    monkeypatch.delenv("IDEMPOTENCY_FINGERPRINT_KEY_FILE", raising=False)
    with pytest.raises(ValidationError) as caught:
        RuntimeSettings(**PRODUCTION, idempotency_fingerprint_key=key)
    message = str(caught.value)
    assert "IDEMPOTENCY_FINGERPRINT_KEY is missing" in message
    assert "at least 32 characters" in message
    assert FINGERPRINT_KEY[:31] not in message


def test_production_takes_the_fingerprint_key_from_a_mounted_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "idempotency-fingerprint-key"
    secret.write_text(FINGERPRINT_KEY + "\n")
    monkeypatch.delenv("IDEMPOTENCY_FINGERPRINT_KEY", raising=False)
    monkeypatch.setenv("IDEMPOTENCY_FINGERPRINT_KEY_FILE", str(secret))
    settings = RuntimeSettings(**PRODUCTION)
    assert settings.idempotency_fingerprint_key is not None
    assert settings.idempotency_fingerprint_key.get_secret_value() == FINGERPRINT_KEY


def test_development_starts_without_a_fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_FINGERPRINT_KEY", raising=False)
    monkeypatch.delenv("IDEMPOTENCY_FINGERPRINT_KEY_FILE", raising=False)
    settings = RuntimeSettings(environment="development")
    assert settings.idempotency_fingerprint_key is None


def test_a_setting_can_come_from_a_mounted_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql+psycopg2://from-file/app\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_FILE", str(secret))
    assert RuntimeSettings().database_url == "postgresql+psycopg2://from-file/app"


def test_an_unreadable_secret_file_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="REDIS_URL_FILE"):
        RuntimeSettings()


def test_invalid_values_are_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="db_pool_size"):
        RuntimeSettings()


def test_load_stops_with_every_wrong_setting_named_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "0")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError) as caught:
        RuntimeSettings.load()
    message = str(caught.value)
    assert message.startswith("The configuration is invalid:")
    assert "  - DB_POOL_SIZE: " in message
    assert "  - LOG_LEVEL: " in message


@pytest.mark.parametrize(
    ("dispatch", "loop", "resolved"),
    [
        ("thread", "auto", "uvloop"),
        ("a2wsgi", "auto", "uvloop"),
        ("inline", "auto", "asyncio"),
        ("inline", "uvloop", "uvloop"),
        ("thread", "asyncio", "asyncio"),
    ],
)
def test_the_event_loop_follows_the_dispatch_unless_chosen(
    dispatch: str, loop: str, resolved: str
) -> None:
    settings = RuntimeSettings(flask_dispatch=dispatch, event_loop=loop)  # type: ignore[arg-type]
    assert settings.resolved_event_loop == resolved


def test_without_uvloop_auto_falls_back_to_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "uvloop" else real(name, *a)
    )
    assert RuntimeSettings(flask_dispatch="thread").resolved_event_loop == "asyncio"
    assert RuntimeSettings(event_loop="uvloop").resolved_event_loop == "uvloop"
