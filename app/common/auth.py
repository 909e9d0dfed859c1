"""Who may call what: scopes by role, the development key ring, caller helpers."""

from __future__ import annotations

import uuid
from pathlib import Path

from runtime import Forbidden, KeyRing, KeyRingError, Principal

SCOPES_BY_ROLE = {"user": ("projects",), "admin": ("projects", "admin")}


def ensure_key_ring(path: Path) -> None:
    """Create a development key ring on first start; production mounts its own.

    Gunicorn's master calls this before forking, so every worker signs with the same key."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        KeyRing.generate(path)
    except KeyRingError:
        if not path.exists():
            raise


def user_id(principal: Principal) -> uuid.UUID:
    return uuid.UUID(principal.subject)


def is_admin(principal: Principal) -> bool:
    return "admin" in principal.scopes


def require_admin(principal: Principal) -> None:
    if not is_admin(principal):
        raise Forbidden("Only administrators may do this.")
