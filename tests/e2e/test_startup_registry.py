"""Start-up refuses a generated registry that does not serve the spec, before any worker serves."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.server import GUNICORN, ROOT, free_port


def start(tmp_path: Path, spec: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "OPENAPI_SPEC": str(spec),
        "BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
    }
    return subprocess.run(
        [str(GUNICORN), "-c", "docker/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_spec_with_an_operation_the_registry_lacks_stops_the_master_with_one_line(
    tmp_path: Path,
) -> None:
    spec = tmp_path / "openapi.yaml"
    original = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    extra = (
        "  /extra:\n    get:\n      operationId: getExtra\n"
        "      responses: {'204': {description: x}}\n"
    )
    spec.write_text(original.replace("\npaths:\n", "\npaths:\n" + extra, 1), encoding="utf-8")
    result = start(tmp_path, spec)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    refused = [line for line in output.splitlines() if "start-up refused" in line]
    assert len(refused) == 1, output
    assert "another openapi.yaml" in refused[0]
    assert "Traceback" not in output
    assert "Booting worker" not in output


def test_the_unchanged_spec_passes_the_same_check(tmp_path: Path) -> None:
    from app import verify_registry
    from app.config import Settings

    verify_registry(Settings(environment="test", openapi_spec=ROOT / "openapi.yaml"))
