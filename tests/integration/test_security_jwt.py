"""JWT attack matrix over HTTP: every forged or misused access token is a 401 with a challenge.

Each legit-but-wrong token is signed with the service's real key ring, so the one claim or
header under test is the only thing wrong with it; a control token built the same way, with
nothing wrong, must be accepted (otherwise the matrix would prove nothing)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.testclient import TestClient

from app.config import Settings
from runtime.auth import KeyRing
from runtime.auth.security import UNAUTHORIZED_DETAIL
from runtime.auth.tokens import low_s
from tests.integration.conftest import register_and_login

API = "/api/v1"
PROBLEM = "application/problem+json"
ALGORITHM = "ES256"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(document: dict[str, Any]) -> str:
    return b64url(json.dumps(document, separators=(",", ":")).encode())


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWT made by hand, so no library can refuse to sign with a public key."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}."


def es256_token(header: dict[str, Any], claims: dict[str, Any], key: ECKey) -> str:
    # Low-s like the service's own signer: a high-s twin is refused before the check under test.
    return low_s(jwt.encode(header, claims, key, algorithms=[ALGORITHM], default_type=None))


class Forge:
    """Builds tokens for one user: valid claims by default, signed with the real active key."""

    def __init__(self, ring: KeyRing, settings: Settings, subject: str) -> None:
        self.ring = ring
        self.settings = settings
        self.subject = subject

    def claims(self, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": self.subject,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "scope": "projects",
        }
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def header(self, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": ALGORITHM, "kid": self.ring.active_kid, "typ": "at+jwt"}
        header.update(changes)
        return header

    def signed(self, *, header: dict[str, Any] | None = None, **claim_changes: Any) -> str:
        return es256_token(
            header or self.header(), self.claims(**claim_changes), self.ring.signing_key()
        )


@pytest.fixture
def user(anonymous: TestClient) -> dict[str, Any]:
    return register_and_login(anonymous)


@pytest.fixture
def forge(key_ring_file: Path, app_settings: Settings, user: dict[str, Any]) -> Forge:
    return Forge(KeyRing.load(key_ring_file), app_settings, user["id"])


@pytest.fixture
def published_key(anonymous: TestClient, forge: Forge) -> dict[str, Any]:
    """The active public JWK as the service publishes it."""
    response = anonymous.get(f"{API}/.well-known/jwks.json")
    assert response.status_code == 200
    keys = {key["kid"]: key for key in response.json()["keys"]}
    assert forge.ring.active_kid in keys
    key: dict[str, Any] = keys[forge.ring.active_kid]
    assert "d" not in key, "the JWKS publishes a private key"
    return key


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert body["type"].endswith("/unauthenticated"), "one problem type for every 401"
    if "authorization" in response.request.headers:
        # One answer for every bad token: the response is no oracle for which check failed.
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert body["detail"] == UNAUTHORIZED_DETAIL


def get_projects(client: TestClient, token: str) -> Any:
    return client.get(f"{API}/projects", headers={"Authorization": f"Bearer {token}"})


# -- the control: the forging machinery makes tokens the service accepts ----------------------


def test_a_token_forged_with_the_real_key_and_correct_claims_is_accepted(
    anonymous: TestClient, forge: Forge
) -> None:
    response = get_projects(anonymous, forge.signed())
    assert response.status_code == 200, response.text


def test_a_real_login_token_is_accepted(anonymous: TestClient, user: dict[str, Any]) -> None:
    assert get_projects(anonymous, user["access_token"]).status_code == 200


# -- algorithm confusion and key injection ------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_an_unsigned_alg_none_token_is_refused(
    anonymous: TestClient, forge: Forge, alg: str
) -> None:
    token = unsigned_token(forge.header(alg=alg), forge.claims())
    assert_unauthorized(get_projects(anonymous, token))


@pytest.mark.parametrize("secret_form", ["jwk-json", "jwk-json-sorted", "pem", "x-coordinate"])
def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    anonymous: TestClient, forge: Forge, published_key: dict[str, Any], secret_form: str
) -> None:
    public = ECKey.import_key(published_key)
    secrets: dict[str, Callable[[], bytes]] = {
        "jwk-json": lambda: json.dumps(published_key).encode(),
        "jwk-json-sorted": lambda: json.dumps(
            published_key, sort_keys=True, separators=(",", ":")
        ).encode(),
        "pem": lambda: public.as_pem(private=False),
        "x-coordinate": lambda: b64url_decode(published_key["x"]),
    }
    token = hs256_token(forge.header(alg="HS256"), forge.claims(), secrets[secret_form]())
    assert_unauthorized(get_projects(anonymous, token))


def test_a_token_with_an_unknown_kid_is_refused(anonymous: TestClient, forge: Forge) -> None:
    own = ECKey.generate_key("P-256", parameters={"alg": ALGORITHM, "use": "sig"}, auto_kid=True)
    token = es256_token(forge.header(kid=own.thumbprint()), forge.claims(), own)
    assert_unauthorized(get_projects(anonymous, token))


def test_the_real_key_under_an_unknown_kid_is_refused(anonymous: TestClient, forge: Forge) -> None:
    token = forge.signed(header=forge.header(kid="not-a-kid-of-the-ring"))
    assert_unauthorized(get_projects(anonymous, token))


@pytest.mark.parametrize("kid_choice", ["own-thumbprint", "active-kid"])
def test_a_token_carrying_its_own_key_in_the_jwk_header_is_refused(
    anonymous: TestClient, forge: Forge, kid_choice: str
) -> None:
    own = ECKey.generate_key("P-256", parameters={"alg": ALGORITHM, "use": "sig"}, auto_kid=True)
    kid = own.thumbprint() if kid_choice == "own-thumbprint" else forge.ring.active_kid
    header = forge.header(kid=kid, jwk=dict(own.as_dict(private=False)))
    token = es256_token(header, forge.claims(), own)
    assert_unauthorized(get_projects(anonymous, token))


# -- a valid signature over claims that must not be accepted ------------------------------------


def test_an_expired_token_is_refused(anonymous: TestClient, forge: Forge) -> None:
    now = int(time.time())
    # WHY: well past the verifier's 30 s clock leeway.
    token = forge.signed(iat=now - 3600, nbf=now - 3600, exp=now - 600)
    assert_unauthorized(get_projects(anonymous, token))


def test_a_token_not_valid_before_a_future_nbf_is_refused(
    anonymous: TestClient, forge: Forge
) -> None:
    token = forge.signed(nbf=int(time.time()) + 3600)
    assert_unauthorized(get_projects(anonymous, token))


def test_a_token_from_another_issuer_is_refused(anonymous: TestClient, forge: Forge) -> None:
    token = forge.signed(iss="https://evil.example/")
    assert_unauthorized(get_projects(anonymous, token))


@pytest.mark.parametrize("audience", ["another-api", ["another-api"]])
def test_a_token_for_another_audience_is_refused(
    anonymous: TestClient, forge: Forge, audience: Any
) -> None:
    assert_unauthorized(get_projects(anonymous, forge.signed(aud=audience)))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt+evil"])
def test_a_token_with_a_typ_other_than_at_jwt_is_refused(
    anonymous: TestClient, forge: Forge, typ: str
) -> None:
    token = forge.signed(header=forge.header(typ=typ))
    assert_unauthorized(get_projects(anonymous, token))


def test_a_token_without_a_typ_is_refused(anonymous: TestClient, forge: Forge) -> None:
    header = forge.header()
    del header["typ"]
    assert_unauthorized(get_projects(anonymous, forge.signed(header=header)))


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "jti"])
def test_a_token_missing_a_required_claim_is_refused(
    anonymous: TestClient, forge: Forge, claim: str
) -> None:
    assert_unauthorized(get_projects(anonymous, forge.signed(**{claim: None})))


def test_a_real_token_with_a_swapped_subject_is_refused(
    anonymous: TestClient, user: dict[str, Any]
) -> None:
    victim = register_and_login(anonymous)
    header, payload, signature = user["access_token"].split(".")
    claims = json.loads(b64url_decode(payload))
    assert claims["sub"] == user["id"]
    claims["sub"] = victim["id"]
    tampered = f"{header}.{b64url_json(claims)}.{signature}"
    assert_unauthorized(get_projects(anonymous, tampered))


def test_a_real_token_with_an_added_admin_scope_is_refused(
    anonymous: TestClient, user: dict[str, Any]
) -> None:
    header, payload, signature = user["access_token"].split(".")
    claims = json.loads(b64url_decode(payload))
    claims["scope"] = "admin projects"
    tampered = f"{header}.{b64url_json(claims)}.{signature}"
    response = anonymous.get(f"{API}/users", headers={"Authorization": f"Bearer {tampered}"})
    assert_unauthorized(response)


def test_a_refresh_token_is_not_an_access_token(
    anonymous: TestClient, user: dict[str, Any]
) -> None:
    assert_unauthorized(get_projects(anonymous, user["refresh_token"]))


@pytest.mark.parametrize(
    "scheme", ["Basic dXNlcjpwYXNz", "Token abc", "Bearer", "Bearer  ", "bearer x.y.z"]
)
def test_an_authorization_header_without_a_usable_bearer_token_is_refused(
    anonymous: TestClient, scheme: str
) -> None:
    response = anonymous.get(f"{API}/projects", headers={"Authorization": scheme})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "garbage",
    ["a.b", "a.b.c.d", "x" * 9000, "eyJ.eyJ.sig", "Bearer"],
    ids=["two-segments", "four-segments", "9000-characters", "stub-segments", "the-word-bearer"],
)
def test_a_malformed_bearer_token_is_refused(anonymous: TestClient, garbage: str) -> None:
    response = anonymous.get(f"{API}/projects", headers={"Authorization": f"Bearer {garbage}"})
    assert_unauthorized(response)


def test_a_token_in_the_query_string_does_not_authenticate(
    anonymous: TestClient, user: dict[str, Any]
) -> None:
    response = anonymous.get(f"{API}/projects", params={"access_token": user["access_token"]})
    assert response.status_code in {400, 401}, response.text
    assert response.headers["content-type"] == PROBLEM
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_no_token_is_a_plain_bearer_challenge(anonymous: TestClient) -> None:
    response = anonymous.get(f"{API}/projects")
    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_invalid_token_challenge_says_invalid_token(anonymous: TestClient, forge: Forge) -> None:
    response = get_projects(anonymous, forge.signed(iss="https://evil.example/"))
    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


# -- a valid token without the scope an operation needs ---------------------------------------


def assert_insufficient_scope(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


def test_a_projects_scope_token_cannot_call_an_admin_operation(
    anonymous: TestClient, forge: Forge
) -> None:
    token = forge.signed(scope="projects")
    assert get_projects(anonymous, token).status_code == 200
    response = anonymous.get(f"{API}/users", headers={"Authorization": f"Bearer {token}"})
    assert_insufficient_scope(response)


def test_a_real_user_login_cannot_call_an_admin_operation(
    anonymous: TestClient, user: dict[str, Any]
) -> None:
    assert user["scope"] == "projects"
    response = anonymous.get(f"{API}/users", headers=user["headers"])
    assert_insufficient_scope(response)
    response = anonymous.post(f"{API}/users/{user['id']}/disable", headers=user["headers"])
    assert_insufficient_scope(response)


def test_a_token_without_any_scope_cannot_call_a_projects_operation(
    anonymous: TestClient, forge: Forge
) -> None:
    token = forge.signed(scope="")
    response = get_projects(anonymous, token)
    assert_insufficient_scope(response)
