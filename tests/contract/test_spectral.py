"""Spectral with the OpenAPI and OWASP API Security rulesets finds no error in the contract.

Needs npm (Node.js): `scripts/spectral/lint` installs the pinned Spectral from the npm registry."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "scripts" / "spectral" / "lint"


def _spectral(document: Path | None = None) -> tuple[int, list[dict[str, Any]]]:
    if shutil.which("npm") is None:
        message = "npm (Node.js) is not installed"
        if IN_CI:
            pytest.fail(f"{message}; CI must provide it.", pytrace=False)
        pytest.skip(message)
    args = [str(LINT), *([str(document)] if document else []), "-f", "json", "--quiet"]
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    start = run.stdout.find("[")
    assert start >= 0, run.stdout + run.stderr
    return run.returncode, json.loads(run.stdout[start:])


def test_the_contract_has_no_spectral_error() -> None:
    code, findings = _spectral()
    errors = [
        f"{f['code']} at {'.'.join(map(str, f['path']))}" for f in findings if f["severity"] == 0
    ]
    warnings = sum(1 for f in findings if f["severity"] == 1)
    print(f"spectral: {len(errors)} errors, {warnings} warnings")
    assert errors == []
    assert code == 0


def test_spectral_fails_on_an_unbounded_response_string(tmp_path: Path) -> None:
    spec = (ROOT / "openapi.yaml").read_text()
    unbounded = spec.replace("          maxLength: 8192\n", "", 1)
    assert unbounded != spec
    document = tmp_path / "openapi.yaml"
    document.write_text(unbounded)
    code, findings = _spectral(document)
    assert code != 0
    assert any(
        f["code"] == "owasp:api4:2023-string-limit" and "access_token" in f["path"]
        for f in findings
    )


def test_every_rule_the_ruleset_turns_off_says_why() -> None:
    lines = (ROOT / ".spectral.yaml").read_text().splitlines()
    for number, line in enumerate(lines):
        starts_block = re.match(r"^  - files:|^  [\w:-]+: \"off\"$", line)
        if not starts_block:
            continue
        above = lines[number - 1].strip()
        assert above.startswith("#"), f".spectral.yaml line {number + 1} has no reason above it"
