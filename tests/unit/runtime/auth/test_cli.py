from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.auth import KeyRing
from runtime.auth.keys.__main__ import main


def test_init_creates_a_ring_and_prints_its_kids_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.json"
    assert main(["init", "--file", str(path)]) == 0
    ring = KeyRing.load(path)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert f"active={ring.active_kid}" in out and f"next={ring.next_kid}" in out
    assert str(ring.signing_key().as_dict(private=True)["d"]) not in out


def test_init_refuses_to_overwrite_an_existing_file(
    ring_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ring_path.read_bytes()
    assert main(["init", "--file", str(ring_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert ring_path.read_bytes() == before


def test_rotate_promotes_the_next_key_and_prints_the_new_kids(
    ring_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = KeyRing.load(ring_path)
    assert main(["rotate", "--file", str(ring_path), "--access-token-ttl", "300"]) == 0
    after = KeyRing.load(ring_path)
    assert after.active_kid == before.next_kid
    assert f"rotated {ring_path}: active={after.active_kid}" in capsys.readouterr().out


def test_rotate_refuses_a_non_positive_ttl(ring_path: Path) -> None:
    assert main(["rotate", "--file", str(ring_path), "--access-token-ttl", "0"]) == 2


def test_jwks_prints_the_public_key_set_on_one_line(
    ring_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jwks", "--file", str(ring_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    kids = [jwk["kid"] for jwk in json.loads(out)["keys"]]
    ring = KeyRing.load(ring_path)
    assert kids == [ring.active_kid, ring.next_kid]
    assert '"d"' not in out


def test_a_command_on_a_missing_file_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jwks", "--file", str(tmp_path / "absent.json")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_the_cli_runs_as_a_module_and_explains_itself(tmp_path: Path) -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "runtime.auth.keys", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "init" in help_text.stdout and "rotate" in help_text.stdout
    created = subprocess.run(
        [sys.executable, "-m", "runtime.auth.keys", "init", "--file", str(tmp_path / "k.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert created.stdout.startswith("created ")
    assert "Warning" not in created.stderr
