"""docker-compose.yml is valid for podman-compose and wires what the deployment needs: secrets as
files, health-gated start order, the migration one-shot, the monitoring profile's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.server import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def rendered(*profiles: str) -> dict[str, Any]:
    """The file as podman-compose resolves it (anchors, merges and profiles applied)."""
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "podman-compose"), *flags, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_the_services_start_in_health_gated_order() -> None:
    assert set(rendered()["services"]) == {"postgres", "redis", "migrate", "api"}
    services = rendered("monitoring")["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "prometheus", "grafana"}
    for name, service in services.items():
        for needed, gate in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            if needed in {"postgres", "redis", "api"}:
                assert gate["condition"] == "service_healthy", (name, needed)
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "redis", "api"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    assert services["migrate"]["command"][:3] == ["python", "-m", "app.migrate"]


def test_secrets_are_files_and_the_app_runs_locked_down() -> None:
    config = rendered()
    declared = config["secrets"]
    assert all(set(secret) == {"file"} for secret in declared.values())
    assert all(
        secret["file"].startswith("./deploy/compose/secrets/") for secret in declared.values()
    )
    for name in ("api", "migrate"):
        service = config["services"][name]
        assert set(service["secrets"]) <= set(declared)
        env = service["environment"]
        assert not any("PASSWORD" in key or key == "DATABASE_URL" for key in env), env
        assert env["DATABASE_URL_FILE"].startswith("/run/secrets/")
        assert env["JWT_KEYS_FILE"] == "/run/secrets/jwt-keys.json"
        key_file = "/run/secrets/idempotency-fingerprint-key"
        assert env["IDEMPOTENCY_FINGERPRINT_KEY_FILE"] == key_file
        assert "idempotency-fingerprint-key" in service["secrets"]
        assert service["read_only"] is True and service["user"] == "10001:10001"
        assert service["cap_drop"] == ["ALL"]
    app_url, migrator_url = (
        config["services"][name]["environment"]["DATABASE_URL_FILE"] for name in ("api", "migrate")
    )
    assert app_url != migrator_url  # the DML and the DDL role
    assert "deploy/compose/secrets/" in (ROOT / ".gitignore").read_text()


def test_the_monitoring_profile_is_provisioned_from_deploy_monitoring() -> None:
    services = rendered("monitoring")["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    mounts = [
        volume.split(":")[0]
        for name in ("prometheus", "grafana")
        for volume in services[name]["volumes"]
    ]
    assert "./deploy/monitoring/prometheus-rules.yml" in mounts
    assert "./deploy/monitoring/grafana-dashboard.json" in mounts
    for mount in mounts:
        if not mount.startswith("./deploy/monitoring/"):  # generated on the observability branch
            assert (ROOT / mount).exists(), mount
    assert "profiles" not in services["api"]


def test_the_roles_script_the_compose_database_runs_exists() -> None:
    init = (ROOT / "deploy" / "compose" / "postgres-init.sh").read_text()
    assert "/opt/roles.sql" in init
    volumes = yaml.safe_load(COMPOSE.read_text())["services"]["postgres"]["volumes"]
    assert "./deploy/postgres/roles.sql:/opt/roles.sql:ro" in volumes
