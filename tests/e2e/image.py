"""The API image under podman, as the tests build and run it (see scripts/build-image)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import IN_CI
from tests.server import ROOT, free_port

PODMAN = [str(ROOT / "scripts" / "podman")]
# WHY: without both limits podman refuses to start a container on these machines.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
IMAGE_TAG = "localhost/contract-first-flask:test"


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def require_podman() -> None:
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root")
    if missing:
        message = f"building the image needs {', '.join(missing)}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def build_image(tag: str = IMAGE_TAG, env: Mapping[str, str] | None = None) -> str:
    """Build the image (the stand-in base only once per machine) and return its tag."""
    require_podman()
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-image"), tag],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.strip().splitlines()[-1]


def image_labels(tag: str) -> dict[str, str]:
    inspected = json.loads(podman("image", "inspect", tag).stdout)[0]
    labels: dict[str, str] = inspected.get("Labels") or inspected["Config"].get("Labels") or {}
    return labels


@dataclass
class Container:
    name: str
    base_url: str
    started_s: float

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=False)


def fingerprint_key_beside(key_ring: Path) -> Path:
    """One fingerprint key per key ring, so a test's migration and server are one deployment."""
    path = key_ring.with_name("idempotency-fingerprint-key")
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o644)  # WHY: readable by the container's user 10001, as a mounted Secret is
    return path


def secure_run_args(key_ring: Path, env: Mapping[str, str]) -> list[str]:
    """Read-only root, a non-root user, no capabilities, the keys as read-only secret files."""
    args = [
        "--network",
        "host",
        "--read-only",
        "--user",
        "10001:10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--tmpfs",
        "/tmp:rw,size=16m,mode=1777",
        "--tmpfs",
        # WHY: podman ignores mode= here and mounts it root-owned 0755; `U` chowns it to the
        # container's user, who writes the multiprocess metrics files (even for a migration).
        "/run/metrics:rw,size=16m,U",
        "--volume",
        f"{key_ring}:/run/secrets/jwt-keys.json:ro",
        "--env",
        "JWT_KEYS_FILE=/run/secrets/jwt-keys.json",
        "--volume",
        f"{fingerprint_key_beside(key_ring)}:/run/secrets/idempotency-fingerprint-key:ro",
        "--env",
        "IDEMPOTENCY_FINGERPRINT_KEY_FILE=/run/secrets/idempotency-fingerprint-key",
        *ULIMITS,
    ]
    for name, value in env.items():
        args += ["--env", f"{name}={value}"]
    return args


def run_once(
    image: str, key_ring: Path, env: Mapping[str, str], command: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    """A one-shot container of the image (a migration, say), removed afterwards."""
    return podman(
        "run", "--rm", *secure_run_args(key_ring, env), image, *command, check=False, timeout=600
    )


@contextmanager
def running_container(
    image: str, key_ring: Path, env: Mapping[str, str], *, ready_timeout_s: float = 120
) -> Iterator[Container]:
    port = free_port()
    name = f"cff-test-{uuid.uuid4().hex[:8]}"
    # WHY: with vfs storage, creating a container copies the image's file system; on a busy
    # machine that alone can take minutes, so the start time is measured from the running state.
    podman(
        "run",
        "--detach",
        "--name",
        name,
        *secure_run_args(key_ring, {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", **env}),
        image,
        timeout=600,
    )
    started = time.monotonic()
    container = Container(name, f"http://127.0.0.1:{port}", 0.0)
    try:
        deadline = started + ready_timeout_s
        while True:
            try:
                if httpx.get(f"{container.base_url}/api/v1/livez", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            state = podman("inspect", "--format", "{{.State.Status}}", name, check=False)
            if time.monotonic() > deadline or state.stdout.strip() in {"exited", "stopped"}:
                raise AssertionError(f"the container did not come up:\n{container.logs()}")
            time.sleep(0.2)
        container.started_s = time.monotonic() - started
        yield container
    finally:
        podman("rm", "--force", "--time", "20", name, check=False, timeout=60)
