"""Access tokens with key rotation: the key ring, the token service, revocation and the
Connexion wiring."""

from runtime.auth.keys import KeyRing, KeyRingError, KeyRingSource
from runtime.auth.revocation import Authenticator, Denylist, Revocations, RevocationStore
from runtime.auth.security import current_principal, security_map
from runtime.auth.tokens import InvalidToken, IssuedToken, Principal, TokenService

__all__ = [
    "Authenticator",
    "Denylist",
    "InvalidToken",
    "IssuedToken",
    "KeyRing",
    "KeyRingError",
    "KeyRingSource",
    "Principal",
    "RevocationStore",
    "Revocations",
    "TokenService",
    "current_principal",
    "security_map",
]
