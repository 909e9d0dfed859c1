"""The calling user, and user administration. Hand-owned: codegen never rewrites it."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Protocol

from app.common.auth import require_admin, user_id
from app.common.errors import EmailAlreadyRegistered, UserNotFound, WrongPassword
from app.common.orm import utcnow
from app.common.utils import API_PREFIX
from app.modules.components import User, UserPage
from app.modules.users import models
from app.modules.users.repo import UserRepo
from app.modules.users.schemas import (
    DisableUser200,
    DisableUserRequest,
    GetMe200,
    GetMeRequest,
    GetUser200,
    GetUserRequest,
    ListUsers200,
    ListUsers200Headers,
    ListUsersRequest,
    UpdateMe200,
    UpdateMeRequest,
)
from runtime import Denylist, Passwords, Principal, as_utc, cursor_position, page, service


class LoginRevoker(Protocol):
    """What the service needs of the auth domain's refresh tokens: ending a user's logins.

    WHY: a protocol, so that ``users`` never imports ``auth``; only ``auth`` imports ``users``."""

    def revoke_all_of_user(self, user_id: uuid.UUID, *, reason: str) -> None: ...


def to_user(row: models.User) -> User:
    return User.model_validate(
        {
            "id": row.id,
            "email": row.email,
            "role": row.role,
            "is_disabled": row.is_disabled,
            "created_at": as_utc(row.created_at),
            "updated_at": as_utc(row.updated_at),
        }
    )


class UsersServiceImpl:
    def __init__(
        self,
        *,
        users: UserRepo,
        refresh_tokens: LoginRevoker,
        passwords: Passwords,
        denylist: Denylist,
    ) -> None:
        self.users = users
        self.refresh_tokens = refresh_tokens
        self.passwords = passwords
        self.denylist = denylist

    def _end_every_login(self, user: models.User, *, reason: str) -> None:
        """Revoke the user's refresh tokens and every access token issued until now.

        ``user`` must have been read with its row lock (``UserRepo.get_locked``)."""
        # WHY: tokens carry whole seconds (`iat`); the next second makes a token issued in
        # this one refused too, never one issued before it accepted. WHY it holds for a login
        # that was in flight: the locked read waited for that login's commit, so its token
        # was issued before this instant.
        not_before = utcnow().replace(microsecond=0) + timedelta(seconds=1)
        user.tokens_not_before = not_before
        # WHY the user's UPDATE before the revocation: should the row lock not be held yet,
        # the UPDATE takes it and waits for a login in flight, and only a revocation after
        # that sees the login's family.
        self.users.flush()
        self.refresh_tokens.revoke_all_of_user(user.id, reason=reason)
        self.denylist.remember_user(str(user.id), not_before=not_before)

    def _me(self, caller: Principal, *, locked: bool = False) -> models.User:
        read = self.users.get_locked if locked else self.users.get
        user = read(user_id(caller))
        if user is None:
            raise UserNotFound("The account no longer exists.")
        return user

    def get_me(self, request: GetMeRequest) -> GetMe200:
        return GetMe200(body=to_user(self._me(request.caller)))

    def update_me(self, request: UpdateMeRequest) -> UpdateMe200:
        # WHY locked: a login holds the same row lock from its read to its commit, so a login
        # in flight commits its family first (then revoked below) or reads what this commits.
        user = self._me(request.caller, locked=True)
        change = request.body
        if not self.passwords.verify(
            user.password_hash, change.current_password.get_secret_value()
        ).ok:
            raise WrongPassword("The current password is wrong.")
        new_email = change.new_email.root.lower() if change.new_email is not None else None
        if new_email is not None and new_email != user.email:
            if self.users.by_email(new_email) is not None:
                raise EmailAlreadyRegistered("An account with this e-mail address exists.")
            user.email = new_email
        if change.new_password is not None:
            user.password_hash = self.passwords.hash(change.new_password.root.get_secret_value())
            user.password_changed_at = utcnow()
            self._end_every_login(user, reason="password-change")
        self.users.flush()
        return UpdateMe200(body=to_user(user))

    def list_users(self, request: ListUsersRequest) -> ListUsers200:
        require_admin(request.caller)
        query = request.query
        rows = self.users.list_page(limit=query.limit + 1, after=cursor_position(query.cursor))
        found = page(rows, limit=query.limit, path=f"{API_PREFIX}/users", params={})
        return ListUsers200(
            body=UserPage(items=[to_user(u) for u in found.items], next=found.next),
            headers=ListUsers200Headers(link=found.link),
        )

    def get_user(self, request: GetUserRequest) -> GetUser200:
        require_admin(request.caller)
        user = self.users.get(request.path.user_id)
        if user is None:
            raise UserNotFound(f"There is no user {request.path.user_id}.")
        return GetUser200(body=to_user(user))

    def disable_user(self, request: DisableUserRequest) -> DisableUser200:
        require_admin(request.caller)
        # WHY locked: as in update_me, a login in flight ends before this or sees the disable.
        user = self.users.get_locked(request.path.user_id)
        if user is None:
            raise UserNotFound(f"There is no user {request.path.user_id}.")
        user.is_disabled = True
        self._end_every_login(user, reason="disabled")
        self.users.flush()
        return DisableUser200(body=to_user(user))


def get_service() -> UsersServiceImpl:
    """The current app's users service (built in ``app.wiring``)."""
    return service(UsersServiceImpl)
