"""The service as the README runs it: Gunicorn + docker/gunicorn.conf.py, PostgreSQL, Redis.

The contract run is authenticated as two ordinary users, ``alice`` and ``bob``: schemathesis
sends alice's access token with every secured operation, and replays alice's reads as bob to
find objects one user can read of another's (its ``object_level_authorization`` check)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from runtime.auth import KeyRing
from tests.server import ROOT, Server, running_server

REPORTS = ROOT / "reports" / "contract"
REQUEST_TIMEOUT_S = 10
# WHY: the default 15 minutes could expire a token mid-run; 3600 s is the service's maximum.
ACCESS_TOKEN_TTL_S = 3600


@dataclass(frozen=True)
class ContractUser:
    name: str
    email: str
    password: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


# Neither password is the spec's example ("correct horse battery staple"), so the example of
# PATCH /users/me cannot change a run user's password and lock schemathesis's re-login out.
USERS = {
    "alice": ("alice@contract.example", "alice-contract-passphrase"),
    "bob": ("bob@contract.example", "bob-contract-passphrase"),
}


@pytest.fixture
def reports_dir() -> Path:
    """Where the contract suite leaves its JUnit report and server logs (gitignored)."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    return REPORTS


@pytest.fixture
def jwt_keys_file(tmp_path: Path) -> Path:
    """A fresh key ring for this test's Gunicorn (an active and a next ES256 key)."""
    path = tmp_path / "jwt-keys.json"
    KeyRing.generate(path)
    return path


@pytest.fixture
def rate_limits() -> bool:
    """Whether the server enforces its x-rate-limit policies; a test overrides it by parametrize."""
    return True


def server_env(
    clean_postgres: str, clean_redis: str, jwt_keys_file: Path, *, rate_limits: bool
) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": clean_postgres,
        "REDIS_URL": clean_redis,
        "VALIDATE_RESPONSES": "true",
        "JWT_KEYS_FILE": str(jwt_keys_file),
        "ACCESS_TOKEN_TTL_S": str(ACCESS_TOKEN_TTL_S),
        "RATE_LIMITS": "true" if rate_limits else "false",
    }


@pytest.fixture
def contract_server(
    clean_postgres: str,
    clean_redis: str,
    jwt_keys_file: Path,
    rate_limits: bool,
    reports_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Server]:
    """Gunicorn on a fresh migrated database and a flushed Redis db, validating its responses."""
    env = server_env(clean_postgres, clean_redis, jwt_keys_file, rate_limits=rate_limits)
    log_path = reports_dir / f"gunicorn-{request.node.name}.log"
    with running_server(env, log_path) as server:
        yield server


def register_and_log_in(server: Server, name: str, email: str, password: str) -> ContractUser:
    """Create the account over HTTP, as a client would, and log in once."""
    credentials = {"email": email, "password": password}
    registered = httpx.post(
        f"{server.api}/auth/register", json=credentials, timeout=REQUEST_TIMEOUT_S
    )
    assert registered.status_code == 201, registered.text
    token = httpx.post(f"{server.api}/auth/token", json=credentials, timeout=REQUEST_TIMEOUT_S)
    assert token.status_code == 200, token.text
    pair = token.json()
    assert pair["token_type"] == "Bearer" and pair["scope"] == "projects", pair
    return ContractUser(name, email, password, pair["access_token"])


@pytest.fixture
def contract_users(contract_server: Server) -> dict[str, ContractUser]:
    """Two ordinary users (scope `projects`), registered and logged in over HTTP."""
    return {
        name: register_and_log_in(contract_server, name, email, password)
        for name, (email, password) in USERS.items()
    }


@pytest.fixture
def alice(contract_users: dict[str, ContractUser]) -> ContractUser:
    return contract_users["alice"]


@pytest.fixture
def wfc_auth_file(contract_users: dict[str, ContractUser], tmp_path: Path) -> Path:
    """The Web Fuzzing Commons auth document that schemathesis's `[auth.wfc]` reads.

    alice logs in through POST /auth/token (schemathesis caches the token and logs in again
    when a request answers 401, e.g. after POST /auth/logout revoked the token it used). bob
    only serves the replays of alice's reads, never calls logout, and sends the token the
    fixture got for him."""
    alice, bob = contract_users["alice"], contract_users["bob"]
    document = {
        "schemaVersion": "1.0.0",
        "auth": [
            {
                "name": alice.name,
                "loginEndpointAuth": {
                    "endpoint": "/api/v1/auth/token",
                    "verb": "POST",
                    "contentType": "application/json",
                    "payloadUserPwd": {
                        "username": alice.email,
                        "password": alice.password,
                        "usernameField": "email",
                        "passwordField": "password",
                    },
                    "token": {
                        "extractFrom": "body",
                        "extractSelector": "/access_token",
                        "sendIn": "header",
                        "sendName": "Authorization",
                        "sendTemplate": "Bearer {token}",
                    },
                },
            },
            {
                "name": bob.name,
                "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {bob.access_token}"}],
            },
        ],
    }
    path = tmp_path / "wfc-auth.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
