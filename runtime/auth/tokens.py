"""Access tokens: RFC 9068 JWTs signed with ES256 by the key ring's active key (RFC 8725 rules)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey

from runtime.auth.keys import ALGORITHM, KeyRingSource

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# WHY: our tokens are a few hundred bytes; a cap stops a megabyte header from being decoded
# and parsed on every request before the signature is even looked at.
MAX_TOKEN_LENGTH = 8192
# The verifier's clock leeway on `exp` and `nbf`: a token is accepted until `exp` plus this.
LEEWAY_S = 30
# WHY: a token must never choose its own verification key (RFC 8725 §3.10); every other
# unexpected header is refused too, since only our own issuer's tokens are verified here.
KEY_CARRYING_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
ALLOWED_HEADERS = frozenset({"alg", "kid", "typ"})
RESERVED_CLAIMS = frozenset({"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "scope"})
SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3
# WHY: ECDSA signatures are malleable: (r, n - s) verifies wherever (r, s) does, in joserfc and
# OpenSSL alike. Our signer only emits low-s signatures (below), so a high-s one was altered; the
# token string then stays unique, which a cache keyed on it would rely on.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ES256_SIGNATURE_BYTES = 64


class InvalidToken(Exception):
    """The access token cannot be trusted; ``reason`` is a short machine code, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who an access token speaks for, and what it allows."""

    subject: str
    scopes: frozenset[str]
    token_id: str
    expires_at: int
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    token_id: str
    expires_at: int


class TokenService:
    """Issues and verifies the access tokens of one issuer for one audience."""

    def __init__(
        self,
        source: KeyRingSource,
        *,
        issuer: str,
        audience: str,
        access_token_ttl_s: int = 900,
        leeway_s: int = LEEWAY_S,
        cache_size: int = 1024,
    ) -> None:
        if access_token_ttl_s <= 0 or leeway_s < 0:
            raise ValueError("access_token_ttl_s must be positive and leeway_s not negative.")
        if cache_size < 0:
            raise ValueError("cache_size must not be negative (0 turns the cache off).")
        self._source = source
        self.issuer = issuer
        self.audience = audience
        self.access_token_ttl_s = access_token_ttl_s
        self.leeway_s = leeway_s
        self._cache_size = cache_size
        self._verified: dict[str, tuple[str, ECKey, dict[str, Any], Principal]] = {}
        self._cache_lock = threading.Lock()

    def issue_access_token(
        self,
        subject: str,
        scopes: Iterable[str],
        *,
        extra: Mapping[str, Any] | None = None,
        now: int | None = None,
    ) -> IssuedToken:
        """Sign a token for ``subject`` with ``scopes``; ``extra`` adds non-registered claims."""
        if not subject:
            raise ValueError("An access token needs a subject.")
        scope_list = sorted(set(scopes))
        bad = [scope for scope in scope_list if not SCOPE_TOKEN.fullmatch(scope)]
        if bad:
            raise ValueError(f"Invalid scope names (RFC 6749 §3.3): {bad!r}.")
        clash = RESERVED_CLAIMS & set(extra or {})
        if clash:
            raise ValueError(f"extra may not set registered claims: {sorted(clash)!r}.")
        now = int(time.time()) if now is None else now
        token_id = uuid.uuid4().hex
        expires_at = now + self.access_token_ttl_s
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "jti": token_id,
            "scope": " ".join(scope_list),
        }
        ring = self._source.current()
        header = {"alg": ALGORITHM, "kid": ring.active_kid, "typ": "at+jwt"}
        token = low_s(
            jwt.encode(
                header, claims, ring.signing_key(), algorithms=[ALGORITHM], default_type=None
            )
        )
        return IssuedToken(token=token, token_id=token_id, expires_at=expires_at)

    def verify_access_token(self, token: str, *, now: int | None = None) -> Principal:
        """The principal of a valid token, or :class:`InvalidToken`; nothing else for any input.

        A token whose signature was verified before is not verified again while the key that
        verified it is still the ring's key for its ``kid``; its claims are checked every time."""
        now = int(time.time()) if now is None else now
        cached = self._verified.get(token) if isinstance(token, str) else None
        if cached is not None:
            cached_kid, cached_key, cached_claims, principal = cached
            # WHY: the ring returns new key objects after every reload, so a key removed or
            # retired since (an emergency rotation) ends its cached tokens at once.
            if self._source.current().verification_key(cached_kid, now) is cached_key:
                self._check_claims(cached_claims, now, token)
                return principal
            self._forget(token)
        header = _read_header(token)
        # WHY: the ring caches its public keys; verified signatures are cached above only
        # against the very key object that checked them (see the WHY there).
        # Verification stays with joserfc (jwt.decode) rather than hand-rolled ECDSA checks.
        key = self._source.current().verification_key(header["kid"], now)
        if key is None:
            raise InvalidToken("unknown_kid")
        claims = _verified_claims(token, key)
        self._check_claims(claims, now, token)
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidToken("invalid_scope")
        principal = Principal(
            subject=claims["sub"],
            scopes=frozenset(scope.split()),
            token_id=claims["jti"],
            expires_at=int(claims["exp"]),
            claims=MappingProxyType(claims),
        )
        self._remember(token, (header["kid"], key, claims, principal))
        return principal

    def _check_claims(self, claims: dict[str, Any], now: int, token: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
        )
        # WHY: jwt.decode only checks the signature; exp, nbf, iss and aud are checked here
        # (validate_nbf runs whenever the claim is present).
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            self._forget(token)
            raise InvalidToken("expired") from None
        except MissingClaimError:
            raise InvalidToken("missing_claim") from None
        except ClaimError as exc:
            raise InvalidToken(f"invalid_{exc.claim}") from None

    def _remember(self, token: str, entry: tuple[str, ECKey, dict[str, Any], Principal]) -> None:
        if not self._cache_size:
            return
        with self._cache_lock:
            while len(self._verified) >= self._cache_size:
                # WHY: oldest first; a dict keeps insertion order, so this is FIFO eviction.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = entry

    def _forget(self, token: str) -> None:
        with self._cache_lock:
            self._verified.pop(token, None)


def _read_header(token: object) -> dict[str, Any]:
    """The protected header, checked before any key is chosen for it."""
    if not isinstance(token, str) or not token.isascii():
        raise InvalidToken("malformed")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("too_large")
    segments = token.split(".")
    if len(segments) != 3 or not all(SEGMENT.fullmatch(segment) for segment in segments):
        raise InvalidToken("malformed")
    try:
        encoded = segments[0].encode("ascii")
        header = json.loads(base64.urlsafe_b64decode(encoded + b"=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidToken("malformed") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed")
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("unsupported_alg")
    if KEY_CARRYING_HEADERS & header.keys():
        raise InvalidToken("untrusted_key_header")
    if not header.keys() <= ALLOWED_HEADERS:
        raise InvalidToken("unexpected_header")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("missing_kid")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
        raise InvalidToken("wrong_typ")
    signature = _b64decode(segments[2])
    if (
        signature is not None
        and len(signature) == ES256_SIGNATURE_BYTES
        and int.from_bytes(signature[32:], "big") > P256_ORDER // 2
    ):
        raise InvalidToken("high_s_signature")
    return header


def _b64decode(segment: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (ValueError, binascii.Error):
        return None


def low_s(token: str) -> str:
    """The same token with its ES256 signature in the canonical low-s form."""
    head, payload, encoded = token.rsplit(".", 2)
    signature = _b64decode(encoded) or b""
    s = int.from_bytes(signature[32:], "big")
    if s <= P256_ORDER // 2:
        return token
    flipped = signature[:32] + (P256_ORDER - s).to_bytes(32, "big")
    return ".".join((head, payload, base64.urlsafe_b64encode(flipped).rstrip(b"=").decode()))


def _verified_claims(token: str, key: ECKey) -> dict[str, Any]:
    try:
        # WHY: the allow-list is explicit even though the header was checked above: joserfc's
        # default allows any "recommended" algorithm, and this is the call that verifies.
        # nosemgrep: jwt-decode-without-claims-check -- the only caller runs the claims registry
        decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
    except BadSignatureError:
        raise InvalidToken("bad_signature") from None
    except (JoseError, ValueError, TypeError):
        raise InvalidToken("malformed") from None
    return decoded.claims
