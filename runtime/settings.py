"""Typed settings, validated once at start-up; secrets may come from ``NAME_FILE`` files."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

Environment = Literal["development", "test", "production"]
MIN_FINGERPRINT_KEY_CHARS = 32


class FileSecretsSource(PydanticBaseSettingsSource):
    """Reads ``NAME_FILE`` (a mounted secret's path) for any setting ``NAME``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text(encoding="utf-8").strip(), field_name, False
        except OSError as exc:
            raise ValueError(
                f"Setting {field_name.upper()}_FILE points to {path!r}, which cannot be read: "
                f"{exc.strerror}."
            ) from None

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = value
        return values


class ConfigurationError(SystemExit):
    """Start-up stops with a message naming every wrong setting, and no traceback."""


def describe_errors(exc: ValidationError) -> str:
    lines = ["The configuration is invalid:"]
    for error in exc.errors(include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper()
        for message in str(error["msg"]).removeprefix("Value error, ").splitlines():
            lines.append(f"  - {name}: {message}" if name else f"  - {message}")
    return "\n".join(lines)


class RuntimeSettings(BaseSettings):
    """What every service built on the runtime can be told through its environment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    environment: Environment = "development"
    service_name: str = "api"
    bind: str = "127.0.0.1:8000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True

    database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)
    db_max_overflow: int = Field(5, ge=0, le=200)
    db_pool_timeout_s: float = Field(5.0, gt=0, le=60)
    db_statement_timeout_ms: int = Field(5000, ge=100, le=600_000)
    db_connect_timeout_s: int = Field(5, ge=1, le=60)
    auto_migrate: bool | None = None

    redis_url: str | None = None
    redis_socket_timeout_s: float = Field(0.5, gt=0, le=30)
    redis_connect_timeout_s: float = Field(0.5, gt=0, le=30)
    redis_retries: int = Field(2, ge=0, le=10)

    swagger_ui: bool | None = None
    validate_responses: bool = False
    # How Flask handlers run under ASGI; see runtime/wsgi.py and docs/PERFORMANCE.md.
    flask_dispatch: Literal["inline", "thread", "a2wsgi"] = "thread"
    # WHY 4, not more: every handler thread contends for the GIL with the event loop; on 2
    # cores 10 threads cost ~20 % more CPU per request than 3-4 (docs/PERFORMANCE.md).
    flask_threads: int = Field(4, ge=1, le=200)
    # The worker's event loop; "auto" is asyncio with inline dispatch, uvloop otherwise.
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    jwt_keys_file: Path | None = None
    jwt_issuer: str = "urn:contract-first:api"
    jwt_audience: str = "api"
    access_token_ttl_s: int = Field(900, ge=60, le=3600)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=3600, le=90 * 24 * 3600)
    # WHY: two tabs refreshing with one token at once are one client, not a thief; RFC 9700
    # §4.14.2 lets the server choose how to detect reuse. Within this window a reused token is
    # refused without ending the login; after it, reuse revokes the whole family.
    refresh_reuse_grace_s: int = Field(5, ge=0, le=60)

    # WHY: NoDecode lets CORS_ORIGINS be a plain comma-separated list, not only JSON.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=100 * 1_048_576)
    rate_limits: bool = True
    # How long a stored Idempotency-Key answer is replayed (the draft suggests 24 hours).
    idempotency_ttl_s: int = Field(24 * 3600, ge=60, le=30 * 24 * 3600)
    # HMAC key of request fingerprints (a body may hold a password); set it in production.
    idempotency_fingerprint_key: SecretStr | None = None

    # Faults (docs/ARCHITECTURE.md, "Deadlines and timeouts"): every wait of a request is
    # bounded by its deadline; `x-deadline` in the spec overrides it per operation.
    request_deadline_s: float = Field(10.0, gt=0, le=300)
    # Requests waiting for a handler thread beyond FLASK_THREADS, per worker, before 503s.
    flask_queue: int = Field(16, ge=0, le=10_000)
    # How long a worker keeps accepting (readiness 503, `Connection: close`) after SIGTERM.
    shutdown_drain_s: float = Field(5.0, ge=0, le=120)
    # Each worker listens on its own SO_REUSEPORT socket, so connections spread evenly.
    reuse_port: bool = True
    # Observability (docs/OBSERVABILITY.md): who may scrape /metrics, and how chatty probes are.
    metrics_enabled: bool = True
    metrics_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"]
    )
    metrics_token: str | None = None
    # The share of successful probe and scrape access lines written (errors always are).
    log_probe_sample: float = Field(0.0, ge=0.0, le=1.0)
    log_quiet_operations: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, FileSecretsSource(settings_cls)

    @model_validator(mode="after")
    def _production_is_explicit(self) -> RuntimeSettings:
        if self.environment != "production":
            return self
        problems = []
        if not self.database_url:
            problems.append("DATABASE_URL is missing; production needs PostgreSQL.")
        elif self.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL points at SQLite; production needs PostgreSQL.")
        if not self.redis_url:
            problems.append("REDIS_URL is missing; production needs Redis.")
        if self.jwt_keys_file is None:
            problems.append("JWT_KEYS_FILE is missing; production needs a mounted key ring.")
        # WHY: every production process (the app, `app.migrate`, `app.retention`) loads these
        # same settings, as it already must for JWT_KEYS_FILE; one rule here, rather than an
        # exemption for the jobs, keeps one refusal and one deployment shape for all of them.
        # Without the key a dump's fingerprints of `register` bodies let passwords be guessed
        # offline at HMAC speed, bypassing argon2id.
        key = self.idempotency_fingerprint_key
        if key is None or len(key.get_secret_value()) < MIN_FINGERPRINT_KEY_CHARS:
            problems.append(
                "IDEMPOTENCY_FINGERPRINT_KEY is missing; production needs a secret of at least "
                f"{MIN_FINGERPRINT_KEY_CHARS} characters (IDEMPOTENCY_FINGERPRINT_KEY_FILE for a "
                "mounted one)."
            )
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS may not be '*' in production; list the origins.")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @field_validator("metrics_allow", mode="after")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IP network (CIDR)") from None
        return value

    @field_validator("cors_origins", "metrics_allow", "log_quiet_operations", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @classmethod
    def load(cls) -> Self:
        """Read and validate the environment, or stop with :class:`ConfigurationError`."""
        try:
            return cls()
        except ValidationError as exc:
            raise ConfigurationError(describe_errors(exc)) from None
        except ValueError as exc:
            raise ConfigurationError(f"The configuration is invalid:\n  - {exc}") from None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def resolved_event_loop(self) -> Literal["asyncio", "uvloop"]:
        if self.event_loop != "auto":
            return self.event_loop
        # WHY: a uvloop worker whose loop is busy with handlers (inline dispatch) starves some
        # connections: p99 0.5-2 s at 64 connections where asyncio's loop keeps p99 near p95.
        # uvloop is optional (uvicorn[standard] leaves it out on some platforms).
        if self.flask_dispatch == "inline" or importlib.util.find_spec("uvloop") is None:
            return "asyncio"
        return "uvloop"

    @property
    def swagger_ui_enabled(self) -> bool:
        return (not self.is_production) if self.swagger_ui is None else self.swagger_ui

    @property
    def auto_migrate_enabled(self) -> bool:
        return (
            (self.environment == "development") if self.auto_migrate is None else self.auto_migrate
        )

    def effective_database_url(self, default_sqlite_path: Path) -> str:
        """The configured URL, or an embedded SQLite file for development."""
        if self.database_url:
            return self.database_url
        default_sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{default_sqlite_path}"
