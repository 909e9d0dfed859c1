"""The image, built from the Dockerfile unchanged, runs read-only as non-root with the key ring and
the fingerprint key as secret files against PostgreSQL and Redis, passes the smoke test, and stops
on SIGTERM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runtime.auth import KeyRing
from tests.e2e.image import Container, image_labels, podman, run_once, running_container
from tests.server import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]


@pytest.fixture
def key_ring(tmp_path: Path) -> Path:
    path = tmp_path / "jwt-keys.json"
    KeyRing.generate(path)
    path.chmod(0o644)  # WHY: readable by the container's user 10001, as a mounted Secret is
    return path


def test_the_image_passes_smoke_read_only_as_non_root(
    built_image: str, blank_postgres: str, redis_url: str, key_ring: Path
) -> None:
    env = {"DATABASE_URL": blank_postgres, "REDIS_URL": redis_url}
    migrated = run_once(built_image, key_ring, env, ["python", "-m", "app.migrate"])
    assert migrated.returncode == 0, migrated.stderr
    with running_container(built_image, key_ring, env) as container:
        print(f"image start to /livez 200: {container.started_s:.1f} s")
        smoke = subprocess.run(
            [str(ROOT / "scripts" / "smoke.sh"), "--expect-version", "1.0.0", container.base_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr + container.logs()
        assert container.exec("id", "-u").stdout.strip() == "10001"
        assert container.exec("touch", "/srv/written").returncode != 0
        assert "gunicorn" in container.exec("cat", "/proc/1/cmdline").stdout
        assert podman("healthcheck", "run", container.name, check=False).returncode == 0
        _stops_gracefully(container)


def _stops_gracefully(container: Container) -> None:
    stopped = podman("stop", "--time", "25", container.name, timeout=60)
    assert stopped.returncode == 0
    state = podman("inspect", "--format", "{{.State.ExitCode}}", container.name)
    logs = container.logs()
    # WHY: exit 0 within the timeout means Gunicorn (PID 1) got SIGTERM and drained; a
    # SIGKILL after the timeout would be 137.
    assert state.stdout.strip() == "0", logs
    assert "Handling signal: term" in logs


def test_the_image_holds_no_build_tools_and_names_its_release(built_image: str) -> None:
    labels = image_labels(built_image)
    version = labels["org.opencontainers.image.version"]
    assert version and version != "0.0.0"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["io.contract-first-flask.migration-head"] != "unknown"
    probe = podman(
        "run",
        "--rm",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        built_image,
        "sh",
        "-c",
        "python -c 'import pip' 2>/dev/null && echo pip; "
        "command -v gcc cc pip pip3 || true; "
        "ls /srv; test -e /srv/tests && echo tests; test -e /srv/.git && echo git; true",
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    found = probe.stdout.split()
    assert {"pip", "tests", "git"}.isdisjoint(found), found
    assert not any(word.endswith(("gcc", "/cc", "pip", "pip3")) for word in found), found
    size = podman("image", "inspect", "--format", "{{.Size}}", built_image).stdout.strip()
    print(f"image size: {int(size) / 1e6:.0f} MB")
