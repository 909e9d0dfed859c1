"""Connexion 3 security handlers for bearer access tokens, wired through ``security_map``.

The spec names only its schemes and scopes, no Python paths: ``add_api(...,
security_map=security_map(verify))`` supplies the handler for ``oauth2`` and ``http``/``bearer``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import connexion.context
import structlog
from connexion.exceptions import OAuthProblem
from connexion.security import OAuthSecurityHandler
from starlette.concurrency import run_in_threadpool

from runtime.auth.tokens import InvalidToken, Principal
from runtime.logging import get_logger
from runtime.metrics import AUTH_FAILURES

UNAUTHORIZED_DETAIL = "The access token is invalid or expired."

log = get_logger("runtime.auth")

Verify = Callable[[str], Principal]


def security_map(verify: Verify, *, blocking: bool = True) -> dict[str, type[OAuthSecurityHandler]]:
    """Handlers for ``add_api(security_map=...)`` that accept ``Authorization: Bearer`` only.

    ``verify`` turns a token into a :class:`Principal` or raises :class:`InvalidToken`; the
    app supplies it (e.g. ``TokenService.verify_access_token``). Pass ``blocking=False`` when
    it does no I/O (signature and claims only), to run it without a thread hand-off."""

    async def token_info(token: str) -> dict[str, Any]:
        try:
            # WHY: Connexion runs security on the event loop; a verify that does I/O (Redis)
            # must not block every other request of this worker while it waits.
            principal = await run_in_threadpool(verify, token) if blocking else verify(token)
        except InvalidToken as exc:
            log.info("access_token_rejected", reason=exc.reason)
            AUTH_FAILURES.labels(reason=exc.reason).inc()
            problem = OAuthProblem(detail=UNAUTHORIZED_DETAIL)
            problem.headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            raise problem from None
        # WHY: the caller is resolved here, once per request; the handler's thread copies
        # this context, so its log lines carry the caller as the access line does.
        structlog.contextvars.bind_contextvars(user_id=principal.subject)
        return {
            "sub": principal.subject,
            "scope": " ".join(sorted(principal.scopes)),
            "principal": principal,
        }

    class BearerAccessTokenHandler(OAuthSecurityHandler):  # type: ignore[misc]
        """Reads the token from the Authorization header only (never query or cookie)."""

        # WHY: the base class would take the function from the spec's x-tokenInfoFunc or the
        # TOKENINFO_FUNC / TOKENINFO_URL environment variables; neither may swap our verifier.
        def get_tokeninfo_func(self, security_definition: Mapping[str, Any]) -> Any:
            return token_info

        @classmethod
        def get_scope_validate_func(cls, security_definition: Mapping[str, Any]) -> Any:
            return cls.validate_scope

        # WHY: Connexion 3.3 inspects the verify function's signature on every request to
        # decide which keyword arguments to pass; the answer never changes for a function.
        _accepts_kwarg = staticmethod(functools.cache(OAuthSecurityHandler._accepts_kwarg))

    # WHY: "bearer" is the key Connexion uses for `type: http, scheme: bearer`; those schemes
    # carry no scopes, so the shared scope check passes them through.
    return {"oauth2": BearerAccessTokenHandler, "bearer": BearerAccessTokenHandler}


def current_principal() -> Principal | None:
    """The caller of the current operation, or None when the operation is public."""
    try:
        token_info = connexion.context.context.get("token_info")
    except RuntimeError:
        # WHY: a request Connexion did not route (an unknown path reaching Flask's own 404)
        # has no operation context; it has no caller either.
        return None
    if not isinstance(token_info, Mapping):
        return None
    principal = token_info.get("principal")
    return principal if isinstance(principal, Principal) else None
