"""Domain errors of the reference app; each carries its problem type and status."""

from __future__ import annotations

from runtime.errors import Conflict, NotFound


class ProjectNotFound(NotFound):
    kind = "project-not-found"
    title = "Project Not Found"


class TaskNotFound(NotFound):
    kind = "task-not-found"
    title = "Task Not Found"


class InvalidTransition(Conflict):
    kind = "invalid-status-transition"
    title = "Invalid Status Transition"
