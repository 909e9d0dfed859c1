from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import json
import random
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.hashes import SHA256
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from runtime.auth import InvalidToken, KeyRing, KeyRingSource, Principal, TokenService
from runtime.auth.keys import new_signing_key
from runtime.auth.tokens import P256_ORDER, low_s
from tests.unit.runtime.auth.conftest import AUDIENCE, ISSUER, NOW, FakeClock


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: Any) -> str:
    return b64(json.dumps(value).encode())


def good_claims(**overrides: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 600,
        "jti": "a" * 32,
        "scope": "tasks:read",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(
    ring_path: Path, claims: dict[str, Any], *, key: ECKey | None = None, **header: Any
) -> str:
    """A token signed by the ring's active key (or ``key``), with the header we choose."""
    ring = KeyRing.load(ring_path)
    full_header = {"alg": "ES256", "kid": ring.active_kid, "typ": "at+jwt", **header}
    full_header = {k: v for k, v in full_header.items() if v is not None}
    # Our signer emits low-s signatures only; so does this helper, or half its tokens would be
    # refused as altered (high-s) before the check a test aims at.
    return low_s(
        jwt.encode(
            full_header, claims, key or ring.signing_key(), algorithms=["ES256"], default_type=None
        )
    )


def rejection(service: TokenService, token: Any, now: int | None = NOW) -> str:
    with pytest.raises(InvalidToken) as caught:
        service.verify_access_token(token, now=now)
    return caught.value.reason


def test_an_issued_token_verifies_to_its_subject_and_scopes(service: TokenService) -> None:
    issued = service.issue_access_token(
        "user-1", ["tasks:write", "tasks:read"], extra={"tenant": "t1"}, now=NOW
    )
    principal = service.verify_access_token(issued.token, now=NOW + 1)
    assert principal == Principal(
        subject="user-1",
        scopes=frozenset({"tasks:read", "tasks:write"}),
        token_id=issued.token_id,
        expires_at=NOW + 900,
    )
    assert issued.expires_at == NOW + 900
    assert principal.claims["scope"] == "tasks:read tasks:write"
    assert principal.claims["tenant"] == "t1"


def test_an_issued_token_carries_the_rfc_9068_header_and_claims(
    service: TokenService, ring_path: Path
) -> None:
    issued = service.issue_access_token("user-1", [], now=NOW)
    header = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": KeyRing.load(ring_path).active_kid, "typ": "at+jwt"}
    claims = service.verify_access_token(issued.token, now=NOW).claims
    assert set(claims) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope"}
    assert len(claims["jti"]) == 32
    assert claims["scope"] == ""


def test_extra_claims_cannot_override_registered_ones(service: TokenService) -> None:
    with pytest.raises(ValueError, match="registered claims"):
        service.issue_access_token("user-1", [], extra={"exp": NOW + 10**9})


def test_a_scope_with_a_space_or_quote_is_refused_at_issue(service: TokenService) -> None:
    with pytest.raises(ValueError, match="scope"):
        service.issue_access_token("user-1", ["tasks:read admin"])
    with pytest.raises(ValueError, match="scope"):
        service.issue_access_token("user-1", ['a"b'])


def test_the_typ_header_is_compared_case_insensitively_and_may_be_a_media_type(
    service: TokenService, ring_path: Path
) -> None:
    for typ in ("AT+JWT", "application/at+jwt"):
        principal = service.verify_access_token(sign(ring_path, good_claims(), typ=typ), now=NOW)
        assert principal.subject == "user-1"


def test_a_token_a_little_past_exp_passes_within_the_leeway(
    service: TokenService, ring_path: Path
) -> None:
    token = sign(ring_path, good_claims(exp=NOW))
    assert service.verify_access_token(token, now=NOW + 29).subject == "user-1"
    assert rejection(service, token, now=NOW + 31) == "expired"


# --- the attack matrix: each of these is an InvalidToken, and nothing else ---


def test_an_unsigned_alg_none_token_is_rejected(service: TokenService, ring_path: Path) -> None:
    kid = KeyRing.load(ring_path).active_kid
    header = b64json({"alg": "none", "kid": kid, "typ": "at+jwt"})
    for signature in ("", "AAAA"):
        token = f"{header}.{b64json(good_claims())}.{signature}"
        assert rejection(service, token) in {"malformed", "unsupported_alg"}


def test_hs256_signed_with_the_public_key_as_hmac_secret_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    ring = KeyRing.load(ring_path)
    public_jwk = json.dumps(ring.public_jwks(NOW)["keys"][0]).encode()
    public_pem = ring.signing_key().as_pem(private=False)
    for secret in (public_jwk, public_pem):
        signing_input = f"{b64json({'alg': 'HS256', 'kid': ring.active_kid, 'typ': 'at+jwt'})}"
        signing_input += f".{b64json(good_claims())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert rejection(service, f"{signing_input}.{b64(mac)}") == "unsupported_alg"


def test_a_token_with_an_unknown_kid_is_rejected(service: TokenService, ring_path: Path) -> None:
    stranger = new_signing_key()
    token = sign(ring_path, good_claims(), key=stranger, kid=stranger.kid)
    assert rejection(service, token) == "unknown_kid"


def test_a_token_without_a_kid_is_rejected(service: TokenService, ring_path: Path) -> None:
    assert rejection(service, sign(ring_path, good_claims(), kid=None)) == "missing_kid"


def test_a_token_whose_jwk_header_carries_the_attackers_own_key_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    attacker = new_signing_key()
    embedded = dict(attacker.as_dict(private=False))
    token = sign(ring_path, good_claims(), key=attacker, kid=attacker.kid, jwk=embedded)
    assert rejection(service, token) == "untrusted_key_header"
    # Even naming one of our kids, a token that brings a key is refused before any lookup.
    token = sign(ring_path, good_claims(), key=attacker, jwk=embedded)
    assert rejection(service, token) == "untrusted_key_header"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIB"]),
    ],
)
def test_a_token_pointing_at_a_key_elsewhere_is_rejected(
    service: TokenService, ring_path: Path, header: str, value: Any
) -> None:
    token = sign(ring_path, good_claims(), **{header: value})
    assert rejection(service, token) == "untrusted_key_header"


def test_a_token_with_crit_or_b64_headers_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    assert rejection(service, sign(ring_path, good_claims(), cty="JWT")) == "unexpected_header"
    token = sign(ring_path, good_claims(), b64=True, crit=["b64"])
    assert rejection(service, token) == "unexpected_header"


def test_an_expired_token_is_rejected(service: TokenService) -> None:
    issued = service.issue_access_token("user-1", ["tasks:read"], now=NOW - 1000)
    assert rejection(service, issued.token) == "expired"


def test_a_token_not_valid_before_a_future_time_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    assert rejection(service, sign(ring_path, good_claims(nbf=NOW + 120))) == "invalid_nbf"


def test_a_token_issued_in_the_future_is_rejected(service: TokenService) -> None:
    issued = service.issue_access_token("user-1", [], now=NOW + 120)
    assert rejection(service, issued.token) == "invalid_iat"


def test_a_token_from_another_issuer_is_rejected(service: TokenService, ring_path: Path) -> None:
    token = sign(ring_path, good_claims(iss="https://evil.example"))
    assert rejection(service, token) == "invalid_iss"


def test_a_token_for_another_audience_is_rejected(service: TokenService, ring_path: Path) -> None:
    for aud in ("https://other.example", ["https://other.example"], []):
        assert rejection(service, sign(ring_path, good_claims(aud=aud))) == "invalid_aud"


def test_a_token_of_another_type_is_rejected(service: TokenService, ring_path: Path) -> None:
    for typ in ("JWT", "refresh+jwt", None):
        assert rejection(service, sign(ring_path, good_claims(), typ=typ)) == "wrong_typ"


@pytest.mark.parametrize("claim", ["exp", "jti", "sub", "iat", "iss", "aud"])
def test_a_token_missing_a_required_claim_is_rejected(
    service: TokenService, ring_path: Path, claim: str
) -> None:
    assert rejection(service, sign(ring_path, good_claims(**{claim: None}))) == "missing_claim"


def test_a_token_with_a_tampered_payload_is_rejected(service: TokenService) -> None:
    header, _, signature = service.issue_access_token(
        "user-1", ["tasks:read"], now=NOW
    ).token.split(".")
    forged = b64json(good_claims(sub="admin", scope="tasks:read tasks:write admin"))
    assert rejection(service, f"{header}.{forged}.{signature}") == "bad_signature"


def test_a_random_opaque_string_like_a_refresh_token_is_rejected(service: TokenService) -> None:
    assert rejection(service, "rt_" + "x" * 43) == "malformed"


def test_a_signed_token_whose_payload_is_not_a_json_object_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    ring = KeyRing.load(ring_path)
    header = {"alg": "ES256", "kid": ring.active_kid, "typ": "at+jwt"}
    for payload in (b"not json", b"[1, 2]", b'"a string"', b"{"):
        token = low_s(
            jws.serialize_compact(header, payload, ring.signing_key(), algorithms=["ES256"])
        )
        assert rejection(service, token) == "malformed"


def test_claims_of_the_wrong_type_are_rejected(service: TokenService, ring_path: Path) -> None:
    cases = [
        (good_claims(exp="tomorrow"), "invalid_exp"),
        (good_claims(exp=True), "invalid_exp"),
        (good_claims(sub=42), "invalid_sub"),
        (good_claims(jti=["a"]), "invalid_jti"),
        (good_claims(scope=["tasks:read"]), "invalid_scope"),
        (good_claims(sub=""), "invalid_sub"),
    ]
    for claims, reason in cases:
        assert rejection(service, sign(ring_path, claims)) == reason


def test_an_exp_of_nan_does_not_make_a_token_immortal(
    service: TokenService, ring_path: Path
) -> None:
    ring = KeyRing.load(ring_path)
    header = {"alg": "ES256", "kid": ring.active_kid, "typ": "at+jwt"}
    payload = json.dumps(good_claims()).replace(f'"exp": {NOW + 600}', '"exp": NaN').encode()
    token = low_s(jws.serialize_compact(header, payload, ring.signing_key(), algorithms=["ES256"]))
    assert rejection(service, token) == "invalid_exp"


def test_attacker_input_of_any_shape_only_ever_raises_invalid_token_with_its_reason(
    service: TokenService,
) -> None:
    valid = service.issue_access_token("user-1", ["tasks:read"], now=NOW).token
    header, payload, signature = valid.split(".")
    rng = random.Random(9068)
    alphabet = 'ABCxyz019-_.=+/ \t\n\x00é€😀{}[]":,'
    unknown_kid = b64json({"alg": "ES256", "kid": "not-in-the-ring", "typ": "at+jwt"})
    expected: list[tuple[Any, str]] = [
        ("", "malformed"),
        (".", "malformed"),
        ("..", "malformed"),
        ("...", "malformed"),
        ("a.b", "malformed"),
        ("a.b.c.d", "malformed"),
        (f"{header}.{payload}", "malformed"),
        (f"{header}.{payload}.{signature}.{signature}", "malformed"),
        # Four well-formed segments are refused before the key is looked up.
        (f"{unknown_kid}.{payload}.{signature}.{signature}", "malformed"),
        (f"{unknown_kid}.{payload}", "malformed"),
        (f"{header}..{signature}", "malformed"),
        (f"{header}.{payload}.", "malformed"),
        (f".{payload}.{signature}", "malformed"),
        (f"{header}.{payload}.{signature}=", "malformed"),
        (f"{header}.{payload}.{signature[:-2]}", "bad_signature"),
        (valid + "A", "bad_signature"),
        (valid.replace(".", "..", 1), "malformed"),
        ("x" * 10_000_000, "too_large"),
        (f"{header}.{'A' * 200_000}.{signature}", "too_large"),
        (f"{b64json([['alg', 'ES256']])}.{payload}.{signature}", "malformed"),
        (f"{b64json('alg')}.{payload}.{signature}", "malformed"),
        (f"{b64json(1)}.{payload}.{signature}", "malformed"),
        (f"{b64(b'{' * 5000)}.{payload}.{signature}", "malformed"),
        (f"{b64(b'[' * 100_000)}.{payload}.{signature}", "too_large"),
        (
            f"{b64json({'alg': 'ES256', 'kid': 7, 'typ': 'at+jwt'})}.{payload}.{signature}",
            "missing_kid",
        ),
        (
            f"{b64json({'alg': 'ES256', 'kid': [], 'typ': 'at+jwt'})}.{payload}.{signature}",
            "missing_kid",
        ),
        (
            f"{b64json({'alg': 'ES256', 'kid': '', 'typ': 'at+jwt'})}.{payload}.{signature}",
            "missing_kid",
        ),
        (
            f"{b64json({'alg': ['ES256'], 'kid': 'k', 'typ': 'at+jwt'})}.{payload}.{signature}",
            "unsupported_alg",
        ),
        (b64(bytes([0xFF, 0xFE])) + f".{payload}.{signature}", "malformed"),
        ("tëst.a.b", "malformed"),
        (None, "malformed"),
        (b"bytes.are.wrong", "malformed"),
        (12, "malformed"),
    ]
    # Cut anywhere up to the signature: malformed; inside the signature: a bad signature.
    last_dot = valid.rindex(".")
    expected += [
        (valid[:cut], "malformed" if cut <= last_dot + 1 else "bad_signature")
        for cut in range(len(valid))
    ]
    expected += [
        ("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))), "malformed")
        for _ in range(500)
    ]
    wrong = [
        (repr(sample)[:80], reason, got)
        for sample, reason in expected
        if (got := rejection(service, sample)) != reason
    ]
    assert wrong == []


def test_the_size_cap_is_8_kib_exactly(service: TokenService) -> None:
    header, _, signature = service.issue_access_token("user-1", [], now=NOW).token.split(".")
    filler = 8192 - len(header) - len(signature) - 2
    at_cap = f"{header}.{'A' * filler}.{signature}"
    assert len(at_cap) == 8192
    # At the cap the token is read (and its signature fails); one more character is refused.
    assert rejection(service, at_cap) == "bad_signature"
    assert rejection(service, f"{header}.{'A' * (filler + 1)}.{signature}") == "too_large"


def test_the_reason_is_the_exceptions_message() -> None:
    assert str(InvalidToken("expired")) == "expired"
    assert InvalidToken("expired").reason == "expired"


@pytest.mark.parametrize(("ttl", "leeway"), [(0, 30), (-1, 30), (900, -1)])
def test_a_service_needs_a_positive_ttl_and_a_leeway_not_negative(
    source: KeyRingSource, ttl: int, leeway: int
) -> None:
    with pytest.raises(ValueError) as raised:
        TokenService(
            source, issuer=ISSUER, audience=AUDIENCE, access_token_ttl_s=ttl, leeway_s=leeway
        )
    assert str(raised.value) == "access_token_ttl_s must be positive and leeway_s not negative."


def test_the_smallest_ttl_and_no_leeway_are_honoured(
    source: KeyRingSource, ring_path: Path
) -> None:
    strict = TokenService(
        source, issuer=ISSUER, audience=AUDIENCE, access_token_ttl_s=1, leeway_s=0
    )
    assert (strict.issuer, strict.audience) == (ISSUER, AUDIENCE)
    assert (strict.access_token_ttl_s, strict.leeway_s) == (1, 0)
    issued = strict.issue_access_token("user-1", [], now=NOW)
    assert issued.expires_at == NOW + 1
    assert strict.verify_access_token(issued.token, now=NOW).expires_at == NOW + 1
    # No leeway: expired the second it reaches exp (the default service allows 30 s more).
    assert rejection(strict, issued.token, now=NOW + 1) == "expired"
    default = TokenService(source, issuer=ISSUER, audience=AUDIENCE)
    assert (default.access_token_ttl_s, default.leeway_s) == (900, 30)


def test_without_now_the_clock_is_used_to_issue_and_to_verify(service: TokenService) -> None:
    before = int(time.time())
    issued = service.issue_access_token("user-1", ["tasks:read"])
    after = int(time.time())
    principal = service.verify_access_token(issued.token)
    assert before + 900 <= principal.expires_at <= after + 900
    assert before <= principal.claims["iat"] <= after
    assert principal.claims["nbf"] == principal.claims["iat"]
    assert (
        rejection(service, service.issue_access_token("u", [], now=before - 3600).token, now=None)
        == "expired"
    )


def test_an_empty_subject_is_refused_at_issue(service: TokenService) -> None:
    with pytest.raises(ValueError) as raised:
        service.issue_access_token("", ["tasks:read"])
    assert str(raised.value) == "An access token needs a subject."


def test_a_token_without_a_scope_claim_has_no_scopes(
    service: TokenService, ring_path: Path
) -> None:
    principal = service.verify_access_token(sign(ring_path, good_claims(scope=None)), now=NOW)
    assert principal.scopes == frozenset()


def test_the_reason_never_echoes_the_token(service: TokenService, ring_path: Path) -> None:
    token = sign(ring_path, good_claims(iss="SECRET-ISSUER-VALUE"))
    with pytest.raises(InvalidToken) as caught:
        service.verify_access_token(token, now=NOW)
    assert "SECRET" not in str(caught.value)
    assert token not in repr(caught.value)


# --- rotation ---


def test_after_rotation_new_tokens_are_signed_by_the_former_next_key(
    service: TokenService, ring_path: Path
) -> None:
    before = KeyRing.load(ring_path)
    KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    issued = service.issue_access_token("user-1", [], now=NOW)
    kid = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))["kid"]
    assert kid == before.next_kid
    assert kid in {key["kid"] for key in before.public_jwks(NOW)["keys"]}
    assert service.verify_access_token(issued.token, now=NOW).subject == "user-1"


def test_tokens_of_the_retired_key_verify_until_its_verify_until_and_fail_after(
    ring_path: Path,
) -> None:
    # A service whose tokens outlive the retirement window shows the key check on its own.
    long_lived = TokenService(
        KeyRingSource(ring_path, check_interval_s=0),
        issuer=ISSUER,
        audience=AUDIENCE,
        access_token_ttl_s=10_000,
    )
    old = long_lived.issue_access_token("user-1", ["tasks:read"], now=NOW)
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    (verify_until,) = ring.retiring.values()
    assert verify_until >= NOW + 900
    assert long_lived.verify_access_token(old.token, now=verify_until - 1).subject == "user-1"
    with pytest.raises(InvalidToken) as caught:
        long_lived.verify_access_token(old.token, now=verify_until)
    assert caught.value.reason == "unknown_kid"


def test_a_key_retired_two_rotations_ago_is_gone_once_its_window_passed(
    service: TokenService, ring_path: Path
) -> None:
    old = service.issue_access_token("user-1", [], now=NOW)
    KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW + 5000)
    assert len(ring.retiring) == 1
    assert len(ring.keys) == 3
    assert rejection(service, old.token, now=NOW + 5000) == "unknown_kid"


# --- the per-ring key cache: a ring file change still takes effect at the next reload ---


def _reloading_service(ring_path: Path, clock: FakeClock) -> TokenService:
    return TokenService(KeyRingSource(ring_path, clock=clock), issuer=ISSUER, audience=AUDIENCE)


def test_a_key_removed_from_the_ring_file_stops_verifying_at_the_next_reload(
    ring_path: Path,
) -> None:
    clock = FakeClock()
    service = _reloading_service(ring_path, clock)
    old = service.issue_access_token("user-1", [], now=NOW)
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    clock.now += 2
    assert service.verify_access_token(old.token, now=NOW).subject == "user-1"
    # An emergency removal of the retiring key, long before its verify-until.
    (retired,) = ring.retiring
    document = json.loads(ring_path.read_text())
    document["keys"] = [jwk for jwk in document["keys"] if jwk["kid"] != retired]
    document["retiring"] = {}
    ring_path.write_text(json.dumps(document))
    clock.now += 0.5
    assert service.verify_access_token(old.token, now=NOW).subject == "user-1"
    clock.now += 0.6
    assert rejection(service, old.token) == "unknown_kid"


def test_a_key_rotated_into_the_ring_file_verifies_after_the_next_reload(
    ring_path: Path,
) -> None:
    clock = FakeClock()
    service = _reloading_service(ring_path, clock)
    assert service.verify_access_token(sign(ring_path, good_claims()), now=NOW)
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=NOW)
    assert ring.next_kid is not None
    fresh = sign(ring_path, good_claims(), key=ring.keys[ring.next_kid], kid=ring.next_kid)
    assert rejection(service, fresh) == "unknown_kid"
    clock.now += 2
    assert service.verify_access_token(fresh, now=NOW).subject == "user-1"


def test_replaced_rings_and_their_keys_are_not_kept(ring_path: Path, source: KeyRingSource) -> None:
    service = TokenService(source, issuer=ISSUER, audience=AUDIENCE)
    first = weakref.ref(source.current())
    for step in range(30):
        now = NOW + step * 1000  # past the previous retiree's 960 s window
        KeyRing.rotate(ring_path, access_token_ttl_s=900, now=now)
        token = service.issue_access_token("user-1", [], now=now).token
        assert service.verify_access_token(token, now=now).subject == "user-1"
    gc.collect()
    assert first() is None
    assert len(source.current().keys) == 3


@pytest.mark.parametrize(
    "change",
    ["der_signature", "non_canonical_base64", "zero_r_and_s", "63_bytes", "65_bytes"],
)
def test_a_signature_not_exactly_a_canonical_raw_r_and_s_is_rejected(
    service: TokenService, change: str
) -> None:
    header, payload, signature = service.issue_access_token("user-1", [], now=NOW).token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    # 64 bytes is 86 base64url characters: the last one carries 2 unused bits.
    unused_bits_set = signature[:-1] + {"A": "B", "Q": "R", "g": "h", "w": "x"}[signature[-1]]
    forged = {
        "der_signature": b64(encode_dss_signature(r, s)),
        "non_canonical_base64": unused_bits_set,
        "zero_r_and_s": b64(bytes(64)),
        "63_bytes": b64(raw[:63]),
        "65_bytes": b64(raw + b"\x00"),
    }[change]
    assert rejection(service, f"{header}.{payload}.{forged}") == "bad_signature"


def test_a_validly_signed_header_past_joserfcs_512_character_limit_is_rejected(
    service: TokenService, ring_path: Path
) -> None:
    ring = KeyRing.load(ring_path)
    header = json.dumps({"alg": "ES256", "kid": ring.active_kid, "typ": "at+jwt"}).encode()
    signing_input = f"{b64(header + b' ' * 400)}.{b64json(good_claims())}"
    private_key = ring.signing_key().private_key
    assert private_key is not None
    r, s = decode_dss_signature(private_key.sign(signing_input.encode(), ECDSA(SHA256())))
    s = min(s, P256_ORDER - s)
    signature = b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    assert rejection(service, f"{signing_input}.{signature}") == "malformed"
    short = f"{b64(header + b' ' * 250)}.{b64json(good_claims())}"
    r, s = decode_dss_signature(private_key.sign(short.encode(), ECDSA(SHA256())))
    s = min(s, P256_ORDER - s)
    short_token = f"{short}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    assert service.verify_access_token(short_token, now=NOW).subject == "user-1"


def test_a_token_of_a_retiring_key_verifies_on_the_clock_without_now(
    service: TokenService, ring_path: Path
) -> None:
    # The retiring key's window is checked against the time too, so `now` must be filled in.
    issued = service.issue_access_token("user-1", ["tasks:read"])
    ring = KeyRing.rotate(ring_path, access_token_ttl_s=900, now=int(time.time()))
    assert ring.retiring
    assert service.verify_access_token(issued.token).subject == "user-1"


def test_the_high_s_twin_of_a_valid_signature_is_rejected(service: TokenService) -> None:
    token = service.issue_access_token("user-1", [], now=NOW).token
    head, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    assert s <= P256_ORDER // 2, "issued signatures are low-s"
    twin = b64(r + (P256_ORDER - s).to_bytes(32, "big"))
    assert rejection(service, f"{head}.{payload}.{twin}") == "high_s_signature"
    assert service.verify_access_token(token, now=NOW).subject == "user-1"


def test_every_issued_signature_is_low_s_and_verifies(service: TokenService) -> None:
    # About half of raw ECDSA signatures are high-s; 40 issues all but certainly meet some.
    for _ in range(40):
        token = service.issue_access_token("user-1", [], now=NOW).token
        raw = base64.urlsafe_b64decode(token.split(".")[2] + "==")
        assert int.from_bytes(raw[32:], "big") <= P256_ORDER // 2
        assert service.verify_access_token(token, now=NOW).subject == "user-1"


# --- the verified-token cache: a signature is checked once, the claims every time ---


def _count_signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import runtime.auth.tokens as tokens

    checked: list[str] = []
    verify = tokens._verified_claims

    def counting(token: str, key: ECKey) -> dict[str, Any]:
        checked.append(token)
        return verify(token, key)

    monkeypatch.setattr(tokens, "_verified_claims", counting)
    return checked


def test_a_token_verified_once_is_not_signature_checked_again(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = _count_signature_checks(monkeypatch)
    issued = service.issue_access_token("user-1", ["tasks:read"], now=NOW)
    first = service.verify_access_token(issued.token, now=NOW)
    second = service.verify_access_token(issued.token, now=NOW + 1)
    assert first == second
    assert checked == [issued.token]


def test_a_cached_token_still_expires(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = _count_signature_checks(monkeypatch)
    issued = service.issue_access_token("user-1", [], now=NOW)
    assert service.verify_access_token(issued.token, now=NOW).subject == "user-1"
    assert rejection(service, issued.token, now=issued.expires_at + 31) == "expired"
    # A clock read earlier again (a test's, or after a step) verifies it afresh: expiry
    # dropped it from the cache, so its signature is checked a second time.
    assert service.verify_access_token(issued.token, now=NOW).subject == "user-1"
    assert checked == [issued.token, issued.token]


def test_a_cached_token_issued_in_the_future_is_refused(service: TokenService) -> None:
    token = service.issue_access_token("user-1", [], now=NOW).token
    assert service.verify_access_token(token, now=NOW).subject == "user-1"
    assert rejection(service, token, now=NOW - 31) == "invalid_iat"


def test_without_a_cache_every_verification_checks_the_signature(
    source: KeyRingSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = _count_signature_checks(monkeypatch)
    uncached = TokenService(source, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    token = uncached.issue_access_token("user-1", [], now=NOW).token
    uncached.verify_access_token(token, now=NOW)
    uncached.verify_access_token(token, now=NOW)
    assert checked == [token, token]


def test_the_cache_holds_at_most_its_size_oldest_out_first(
    source: KeyRingSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = _count_signature_checks(monkeypatch)
    small = TokenService(source, issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    a, b, c = (small.issue_access_token(f"user-{n}", [], now=NOW).token for n in range(3))
    for token in (a, b, c, c, b, a):
        small.verify_access_token(token, now=NOW)
    assert checked == [a, b, c, a]


def test_the_cache_holds_1024_tokens_by_default(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = _count_signature_checks(monkeypatch)
    tokens = [service.issue_access_token(f"user-{n}", [], now=NOW).token for n in range(1025)]
    for token in tokens[:1024]:
        service.verify_access_token(token, now=NOW)
    service.verify_access_token(tokens[0], now=NOW)
    assert len(checked) == 1024
    service.verify_access_token(tokens[1024], now=NOW)
    service.verify_access_token(tokens[0], now=NOW)
    assert len(checked) == 1026


def test_a_negative_cache_size_is_refused_saying_what_zero_means(source: KeyRingSource) -> None:
    with pytest.raises(ValueError) as raised:
        TokenService(source, issuer=ISSUER, audience=AUDIENCE, cache_size=-1)
    assert str(raised.value) == "cache_size must not be negative (0 turns the cache off)."


@pytest.mark.parametrize("token", [[], {}, ["a.b.c"], {"a": 1}, set()])
def test_an_unhashable_token_is_malformed_not_a_type_error(
    service: TokenService, token: Any
) -> None:
    assert rejection(service, token) == "malformed"


def test_low_s_keeps_half_the_order_and_flips_just_above_it() -> None:
    half = P256_ORDER // 2
    r = (12345).to_bytes(32, "big")
    at_half = f"h.p.{b64(r + half.to_bytes(32, 'big'))}"
    assert low_s(at_half) == at_half
    above = f"h.p.{b64(r + (half + 1).to_bytes(32, 'big'))}"
    flipped = base64.urlsafe_b64decode(low_s(above).split(".")[2] + "==")
    assert flipped == r + (P256_ORDER - half - 1).to_bytes(32, "big")


def test_a_signature_is_high_s_from_just_above_half_the_order(service: TokenService) -> None:
    head, payload, signature = service.issue_access_token("user-1", [], now=NOW).token.split(".")
    r = base64.urlsafe_b64decode(signature + "==")[:32]
    half = P256_ORDER // 2
    at_half = f"{head}.{payload}.{b64(r + half.to_bytes(32, 'big'))}"
    above = f"{head}.{payload}.{b64(r + (half + 1).to_bytes(32, 'big'))}"
    # At half the order the signature is low-s, so it reaches (and fails) verification.
    assert rejection(service, at_half) == "bad_signature"
    assert rejection(service, above) == "high_s_signature"
