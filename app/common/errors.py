"""Domain errors of the reference app; each carries its problem type and status."""

from __future__ import annotations

from typing import Any

from runtime import Conflict, Forbidden, NotFound, Unauthenticated


class ProjectNotFound(NotFound):
    kind = "project-not-found"
    title = "Project Not Found"


class TaskNotFound(NotFound):
    kind = "task-not-found"
    title = "Task Not Found"


class InvalidTransition(Conflict):
    kind = "invalid-status-transition"
    title = "Invalid Status Transition"


class UserNotFound(NotFound):
    kind = "user-not-found"
    title = "User Not Found"


class EmailAlreadyRegistered(Conflict):
    kind = "email-already-registered"
    title = "E-mail Already Registered"


class InvalidGrant(Unauthenticated):
    """A failed login or refresh; carries RFC 6749 §5.2's ``error`` code for OAuth 2.0 clients."""

    kind = "invalid-grant"
    title = "Invalid Credentials"

    def to_dict(
        self, *, instance: str | None = None, request_id: str | None = None
    ) -> dict[str, Any]:
        body = super().to_dict(instance=instance, request_id=request_id)
        body["error"] = "invalid_grant"
        if self.detail:
            body["error_description"] = self.detail
        return body


class WrongPassword(Forbidden):
    kind = "wrong-password"
    title = "Wrong Password"
