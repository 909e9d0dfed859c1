"""Accounts and tokens. Hand-owned: ``python -m codegen`` never rewrites it."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from datetime import UTC, datetime, timedelta

import redis

from app.common.auth import SCOPES_BY_ROLE, user_id
from app.common.errors import EmailAlreadyRegistered, InvalidGrant
from app.common.orm import utcnow
from app.common.utils import API_PREFIX
from app.modules.auth.repo import RefreshTokenRepo, RevocationRepo
from app.modules.auth.schemas import (
    CreateToken200,
    CreateTokenRequest,
    GetJwks200,
    GetJwksRequest,
    Logout204,
    LogoutRequest,
    RefreshToken200,
    RefreshTokenRequest,
    Register201,
    Register201Headers,
    RegisterRequest,
)
from app.modules.components import Credentials, Jwks, TokenPair
from app.modules.users.models import User
from app.modules.users.repo import EmailTaken, UserRepo
from app.modules.users.service import to_user
from runtime import (
    LOGINS,
    Authenticator,
    FieldError,
    Passwords,
    ValidationProblem,
    as_utc,
    service,
)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


class AuthServiceImpl:
    def __init__(
        self,
        *,
        users: UserRepo,
        refresh_tokens: RefreshTokenRepo,
        revocations: RevocationRepo,
        passwords: Passwords,
        authenticator: Authenticator,
        refresh_token_ttl_s: int,
        refresh_reuse_grace_s: int = 0,
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.revocations = revocations
        self.passwords = passwords
        self.authenticator = authenticator
        self.refresh_token_ttl_s = refresh_token_ttl_s
        self.refresh_reuse_grace_s = refresh_reuse_grace_s

    def register(self, request: RegisterRequest) -> Register201:
        email = request.body.email.root.lower()
        if self.users.by_email(email) is not None:
            raise EmailAlreadyRegistered("An account with this e-mail address exists.")
        try:
            password_hash = self.passwords.hash(request.body.password.root.get_secret_value())
            user = self.users.add(email=email, password_hash=password_hash)
        except EmailTaken:
            raise EmailAlreadyRegistered("An account with this e-mail address exists.") from None
        return Register201(
            body=to_user(user), headers=Register201Headers(location=f"{API_PREFIX}/users/me")
        )

    def create_token(self, request: CreateTokenRequest) -> CreateToken200:
        # WHY locked until the commit: a password change or a disable committed between this
        # read and the family's insert below would not see the family (READ COMMITTED), which
        # then outlived the change meant to end it. The change reads the user locked too, so
        # it waits for this login and then revokes its family (and sets a not-before time
        # after its token), or it holds the row first and this read waits for its commit and
        # gets the new hash (or the disable). An unknown account has no row to lock; it still
        # pays the same argon2 work below.
        user = self.users.by_email_locked(_account_name(request.body))
        password = request.body.password.get_secret_value()
        check = self.passwords.verify(user.password_hash if user else None, password)
        # WHY: one answer for an unknown account, a wrong password and a disabled account, and
        # the same argon2 work for each, so neither the body nor the timing tells them apart.
        if user is None or not check.ok or user.is_disabled:
            LOGINS.labels(result="failure").inc()
            raise InvalidGrant("The e-mail address or the password is wrong.")
        if check.needs_rehash:
            user.password_hash = self.passwords.hash(password)
        family = self.refresh_tokens.start_family(
            user_id=user.id, expires_at=utcnow() + timedelta(seconds=self.refresh_token_ttl_s)
        )
        LOGINS.labels(result="success").inc()
        return CreateToken200(body=self._pair(user, family.id))

    def refresh_token(self, request: RefreshTokenRequest) -> RefreshToken200:
        found = self.refresh_tokens.find(hash_refresh_token(request.body.refresh_token))
        if found is None:
            raise InvalidGrant("The refresh token is not valid.")
        token, family = found
        if family.revoked_at is not None or as_utc(family.expires_at) <= utcnow():
            raise InvalidGrant("The refresh token is not valid.")
        if not self.refresh_tokens.claim(token.id):
            used_at = self.refresh_tokens.used_at(token.id)
            # WHY `grace > 0`: used_at is another instance's clock (the one that won), so the
            # time since can be zero or negative; without a grace that is a reuse like any
            # other, not a race lost a moment ago.
            if (
                self.refresh_reuse_grace_s > 0
                and used_at is not None
                and (utcnow() - as_utc(used_at)).total_seconds() <= self.refresh_reuse_grace_s
            ):
                # WHY: a concurrent refresh of the same client (another tab) lost the race; the
                # winner's new pair stays valid, and this caller gets nothing either way.
                raise InvalidGrant("The refresh token was just used; use the new one.")
            # WHY: RFC 9700 §4.14.2: a used token presented again means two parties hold it;
            # we cannot tell which is the attacker, so the whole login ends.
            self.refresh_tokens.revoke_family_now(family.id, reason="reuse")
            # WHY: the revocation is committed in PostgreSQL, and the cache dropped its ready
            # marker, so checks ask the database; the client still gets its 401.
            with contextlib.suppress(redis.exceptions.RedisError):
                self.authenticator.denylist.remember_family(str(family.id), revoked_at=utcnow())
            raise InvalidGrant("The refresh token is not valid.")
        # WHY locked, and the family asked again after the lock: a password change or a
        # disable reads the user locked too. One that committed since the family was read
        # above has revoked it, and this sees it; one still to come waits for this commit and
        # then revokes the family and takes a not-before time after this token. Without it, a
        # token issued after the change's not-before second, in a family revoked meanwhile, was
        # accepted from a warm cache (which knows the user's not-before time, not the family).
        user = self.users.get_locked(family.user_id)
        if user is None or user.is_disabled or self.refresh_tokens.is_revoked(family.id):
            raise InvalidGrant("The refresh token is not valid.")
        return RefreshToken200(body=self._pair(user, family.id))

    def logout(self, request: LogoutRequest) -> Logout204:
        caller = request.caller
        found = self.refresh_tokens.find(hash_refresh_token(request.body.refresh_token))
        denylist = self.authenticator.denylist
        if found is not None and found[1].user_id == user_id(caller):
            self.refresh_tokens.revoke_family(found[1].id, reason="logout")
            denylist.remember_family(str(found[1].id), revoked_at=utcnow())
        expires_at = datetime.fromtimestamp(caller.expires_at, UTC)
        self.revocations.revoke_token(caller.token_id, expires_at=expires_at)
        # WHY: cached before the commit: if Redis refuses, the request fails and rolls back,
        # so no logout is acknowledged that the cache does not know of.
        denylist.remember_token(caller.token_id, until=caller.expires_at)
        return Logout204()

    def get_jwks(self, request: GetJwksRequest) -> GetJwks200:
        ring = self.authenticator.keys.current()
        return GetJwks200(body=Jwks.model_validate(ring.public_jwks(int(time.time()))))

    def _pair(self, user: User, family_id: object) -> TokenPair:
        scopes = SCOPES_BY_ROLE.get(user.role, ())
        # WHY: `sid` names the login, so revoking it (reuse, logout) ends its access tokens too.
        access = self.authenticator.tokens.issue_access_token(
            str(user.id), scopes, extra={"sid": str(family_id)}, now=_issued_at(user)
        )
        refresh = secrets.token_urlsafe(32)
        self.refresh_tokens.add_token(family_id=family_id, token_hash=hash_refresh_token(refresh))  # type: ignore[arg-type]
        return TokenPair.model_validate(
            {
                "access_token": access.token,
                # WHY: bandit reads "Bearer" as a password; it is the OAuth token type.
                "token_type": "Bearer",  # nosec B105
                # WHY at most the ttl: a token that starts at the not-before second (see
                # _issued_at) expires ttl + 1 whole seconds from now, which is over the
                # schema's maximum (3600, the longest ttl) and more than it really has left.
                "expires_in": max(
                    0,
                    min(
                        access.expires_at - int(time.time()),
                        self.authenticator.tokens.access_token_ttl_s,
                    ),
                ),
                "refresh_token": refresh,
                "scope": " ".join(scopes),
            }
        )


def _issued_at(user: User) -> int:
    """Now, or the user's not-before second if that is still ahead.

    WHY: ending every login refuses tokens issued before the next whole second (``iat`` has
    whole seconds), so a login in the change's own second would get a token refused for its
    whole life. This login read the changed row (the new password, the new not-before), so its
    token may start at the not-before second instead: less than a second ahead, well within
    the verifier's leeway for ``nbf``. A login the change ended cannot be refreshed."""
    now = int(time.time())
    not_before = user.tokens_not_before
    if not_before is None:
        return now
    # WHY: SQLite gives back naive datetimes, in UTC as they were stored.
    aware = not_before if not_before.tzinfo else not_before.replace(tzinfo=UTC)
    return max(now, int(aware.timestamp()))


def get_service() -> AuthServiceImpl:
    """The current app's auth service (built in ``app.wiring``)."""
    return service(AuthServiceImpl)


def _account_name(credentials: Credentials) -> str:
    """The e-mail that names the account: ``email`` in JSON, ``username`` in the RFC 6749 form."""
    named = {c.root.lower() for c in (credentials.email, credentials.username) if c is not None}
    if len(named) != 1:
        raise ValidationProblem(
            errors=[FieldError("#/email", "give the account's e-mail as email or username, once")]
        )
    return named.pop()
