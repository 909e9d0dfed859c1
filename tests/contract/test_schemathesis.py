"""Contract tests: schemathesis 4 (its CLI) against the service running as the README runs it.

The run uses every check and every phase (examples, coverage, fuzzing, stateful through the
spec's `links`), a fixed seed and a JUnit report under ``reports/contract/``. What the API
documents differently from a check's default expectation is configured, with the reason, in
``schemathesis.toml`` at the repository root; nothing is disabled there.

``CONTRACT_MAX_EXAMPLES`` (default 100) sets the examples per operation and phase;
``CONTRACT_TIMEOUT_S`` (default 600) bounds the whole schemathesis run."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.contract.conftest import ContractUser
from tests.server import ROOT, Server

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG_FILE = ROOT / "schemathesis.toml"


def _seed(value: str) -> int:
    """CONTRACT_SEED: a number, or ``random`` for a fresh one (printed, so a failure replays)."""
    return secrets.randbelow(2**31) if value == "random" else int(value)


# WHY: fixed in CI, so a run is the same on every machine; `random` explores new inputs.
SEED = _seed(os.environ.get("CONTRACT_SEED", "20261126"))
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "100"))
RUN_TIMEOUT_S = float(os.environ.get("CONTRACT_TIMEOUT_S", "600"))
REQUEST_TIMEOUT_S = 10
# The service's own bounds are 5 s (statement, pool and connect timeouts); a slower answer is a bug.
MAX_RESPONSE_TIME_S = 5
# Two client workers, as many as Gunicorn's whatever the CI machine's core count, so requests on
# one resource race each other (that found a PATCH/DELETE race). WHY one on older Pythons:
# schemathesis's threads build Hypothesis strategies concurrently, calling `ast.parse` in several
# threads, and CPython before 3.11.8 / 3.12.1 then fails at random with "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905): a "Runtime Error" of the run.
_PY = sys.version_info[:3]
_AST_THREAD_SAFE = (3, 11, 8) <= _PY < (3, 12) or _PY >= (3, 12, 1)
CLIENT_WORKERS = 2 if _AST_THREAD_SAFE else 1
OUTPUT_LIMIT = 60_000


def schemathesis_command(server: Server, junit_path: Path) -> list[str]:
    return [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG_FILE),
        "run",
        f"{server.api}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        str(CLIENT_WORKERS),
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--max-response-time",
        str(MAX_RESPONSE_TIME_S),
        # WHY: no example database between runs, so a fixed seed means the same run every time.
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit_path),
        "--no-color",
    ]


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return output or ""


def _tail(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} chars cut ...]\n{text[-limit:]}"


def _server_errors(server: Server) -> str:
    lines = [line for line in server.log().splitlines() if '"level": "error"' in line]
    return "\n".join(lines[-20:]) or "(none)"


def _authenticated_successes(server: Server) -> int:
    """2xx answers to project and task operations, which all need a valid access token."""
    pattern = re.compile(r'"path": "/api/v1/projects[^"]*", "status": 2\d\d')
    return sum(bool(pattern.search(line)) for line in server.log().splitlines())


def _api_calls(server: Server) -> int:
    """Requests the service answered, from its one access-log line per request."""
    return sum('"logger": "runtime.access"' in line for line in server.log().splitlines())


# WHY rate limits off for this run: POST /auth/logout revokes the access token it is called with
# (documented), so schemathesis logs alice in again after each logout, dozens of times a minute,
# and the per-account login limit (5/minute) then answers its re-logins 429: the rest of the run
# is "Authentication Error". The limits are tested on their own below.
@pytest.mark.parametrize("rate_limits", [False], ids=["rate-limits-off"])
def test_the_service_honours_its_contract(
    contract_server: Server, wfc_auth_file: Path, reports_dir: Path
) -> None:
    junit_path = reports_dir / "schemathesis.xml"
    junit_path.unlink(missing_ok=True)
    command = schemathesis_command(contract_server, junit_path)
    started = time.monotonic()
    partial: str | None
    try:
        result = subprocess.run(
            command,
            cwd=ROOT,
            # schemathesis.toml's [auth.wfc] reads the two users from this file.
            env={**os.environ, "COLUMNS": "120", "CONTRACT_WFC_AUTH": str(wfc_auth_file)},
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        partial = f"{_tail(_text(exc.stdout))}\n{_tail(_text(exc.stderr), 5_000)}"
    else:
        partial = None
    if partial is not None:
        pytest.fail(
            f"schemathesis did not finish within {RUN_TIMEOUT_S:.0f} s (CONTRACT_TIMEOUT_S):\n"
            f"$ {shlex.join(command)}\n\n{partial}\n"
            f"Server errors (full log: {contract_server.log_path}):\n"
            f"{_server_errors(contract_server)}",
            pytrace=False,
        )
    elapsed = time.monotonic() - started
    output = result.stdout + (f"\n[stderr]\n{result.stderr}" if result.stderr.strip() else "")
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis exited with {result.returncode}:\n$ {shlex.join(command)}\n\n"
            f"{_tail(output)}\n\nServer errors (full log: {contract_server.log_path}):\n"
            f"{_server_errors(contract_server)}",
            pytrace=False,
        )

    assert junit_path.is_file(), f"no JUnit report at {junit_path}:\n{_tail(output)}"
    suites = ET.parse(junit_path).getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) > 0, f"the JUnit report has no test cases:\n{junit_path.read_text()}"
    assert int(suites.get("failures", "0")) == 0
    assert int(suites.get("errors", "0")) == 0

    # 401 is an accepted answer for every check, so a run whose token stopped working would pass.
    assert _authenticated_successes(contract_server) > 0, "the run never got past authentication"

    generated = re.search(r"(\d+) generated", result.stdout)
    print(  # the numbers, shown with -s or -rP
        f"\nschemathesis: {elapsed:.1f} s, max-examples={MAX_EXAMPLES}, seed={SEED}, "
        f"workers={CLIENT_WORKERS}, "
        f"{generated.group(1) if generated else '?'} test cases generated, "
        f"{len(cases)} JUnit test cases, {_api_calls(contract_server)} API calls answered"
    )


def test_a_body_of_invalid_utf8_is_a_400_problem(
    contract_server: Server, alice: ContractUser
) -> None:
    response = httpx.post(
        f"{contract_server.api}/projects",
        content=b'{"name": "caf\xe9 \xff\xfe"}',
        headers={"Content-Type": "application/json", **alice.headers},
        timeout=REQUEST_TIMEOUT_S,
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert problem["type"].endswith("/malformed-request")
    assert "UTF-8" in problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    listing = httpx.get(
        f"{contract_server.api}/projects", headers=alice.headers, timeout=REQUEST_TIMEOUT_S
    )
    assert listing.status_code == 200, listing.text
    assert listing.json()["items"] == []


def test_head_and_control_characters_in_paths_are_answered_without_a_500(
    contract_server: Server, alice: ContractUser
) -> None:
    """Regressions found by the contract run and by hand: both were 500s under Gunicorn."""
    head = httpx.head(
        f"{contract_server.api}/projects", headers=alice.headers, timeout=REQUEST_TIMEOUT_S
    )
    assert head.status_code == 200, head.text
    assert head.content == b""

    for path in ("/projects/a%0Ab", "/projects/a%0Ab/tasks", "/projects/%0A/tasks/%0A"):
        response = httpx.get(
            f"{contract_server.api}{path}", headers=alice.headers, timeout=REQUEST_TIMEOUT_S
        )
        assert response.status_code == 400, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/malformed-request")
