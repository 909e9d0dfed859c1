"""Problems the pipeline reports, as values, with the exit code each one means."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_STALE = 1
EXIT_INVALID = 2
EXIT_HAND_EDITED = 3
EXIT_INTERNAL = 4


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in the spec, located by an RFC 6901 JSON pointer (``#/paths/~1x/get``)."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer}: {self.message}"


def pointer(parts: Iterable[object]) -> str:
    """Build a ``#/…`` JSON pointer, escaping ``~`` and ``/`` as RFC 6901 requires."""
    escaped = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "#/" + "/".join(escaped) if escaped else "#"


class CodegenError(Exception):
    """A failure that ends the run with ``exit_code`` after printing ``lines``."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


class SpecError(CodegenError):
    """The spec is invalid or uses a construct codegen does not support."""

    exit_code = EXIT_INVALID

    def __init__(self, issues: Sequence[Issue]) -> None:
        unique = sorted(set(issues), key=issues.index)
        super().__init__([str(issue) for issue in unique])
        self.issues = unique


class ConfigError(CodegenError):
    """The command line or ``[tool.codegen]`` is unusable."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str) -> None:
        super().__init__([message])


class HandEditedError(CodegenError):
    """A generated file on disk was changed by hand; overwriting it would lose that work."""

    exit_code = EXIT_HAND_EDITED


class FormatError(CodegenError):
    """ruff could not format generated code: a bug in codegen, not in the spec."""

    exit_code = EXIT_INTERNAL
