"""Domain errors of the reference app; each carries its problem type and status."""

from __future__ import annotations

from runtime.errors import Conflict, Forbidden, NotFound, Unauthenticated


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
    kind = "invalid-grant"
    title = "Invalid Credentials"


class WrongPassword(Forbidden):
    kind = "wrong-password"
    title = "Wrong Password"
