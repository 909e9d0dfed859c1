"""Access tokens with key rotation: the key ring, the token service and the Connexion wiring."""

from runtime.auth.keys import KeyRing, KeyRingError, KeyRingSource
from runtime.auth.security import current_principal, security_map
from runtime.auth.tokens import InvalidToken, IssuedToken, Principal, TokenService

__all__ = [
    "InvalidToken",
    "IssuedToken",
    "KeyRing",
    "KeyRingError",
    "KeyRingSource",
    "Principal",
    "TokenService",
    "current_principal",
    "security_map",
]
