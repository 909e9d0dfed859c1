"""scripts/smoke.sh passes against Gunicorn as scripts/serve runs it, and names the first check
that fails with its own exit code, within a bounded time."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.server import ROOT, free_port, production_env, running_server

SMOKE = str(ROOT / "scripts" / "smoke.sh")


def smoke(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SMOKE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "SMOKE_TIMEOUT": "3"},
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.server
def test_smoke_passes_against_production_gunicorn(
    tmp_path: Path, clean_postgres: str, clean_redis: str
) -> None:
    env = production_env(tmp_path, clean_postgres, clean_redis)
    with running_server(env, tmp_path / "server.log") as server:
        passed = smoke("--expect-version", "1.0.0", server.base_url)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        assert "old tokens refused" in passed.stdout
        wrong_version = smoke("--expect-version", "9.9.9", server.api)
        assert wrong_version.returncode == 13, wrong_version.stderr
    # Each instance its own control socket, named after its bind address (not ~/.gunicorn).
    port = server.base_url.rsplit(":", 1)[1]
    assert f"Control socket listening at /tmp/gunicorn-127-0-0-1-{port}.ctl" in server.log()


class Stub(BaseHTTPRequestHandler):
    """Answers the probes, with or without the security headers."""

    headers_on = True

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200 if self.path.endswith(("/livez", "/readyz")) else 404)
        self.send_header("content-type", "application/json")
        if self.headers_on:
            for name in ("X-Frame-Options", "Referrer-Policy", "Cache-Control"):
                self.send_header(name, "x")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'none'")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[Stub]]]:
    handler = type("StubHandler", (Stub,), {})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def test_each_failure_has_its_own_exit_code(stub: tuple[str, type[Stub]]) -> None:
    url, handler = stub
    assert smoke(url).returncode == 12  # probes and headers fine, no JWKS
    handler.headers_on = False
    missing = smoke(url)
    assert missing.returncode == 22 and "X-Content-Type-Options" in missing.stderr
    assert smoke().returncode == 2


def test_a_dead_target_fails_on_liveness_within_the_wait() -> None:
    # WHY the run's own timeout and no stopwatch: a script that never gave up would raise
    # TimeoutExpired (the wait plus one request's timeout is seconds; 60 s is a hang guard),
    # while an elapsed-time assertion fails whenever a loaded machine is slow.
    dead = smoke("--wait", "2", f"http://127.0.0.1:{free_port()}", timeout=60)
    assert dead.returncode == 10
    assert "smoke: FAIL GET " in dead.stderr and "/livez: not 200" in dead.stderr
