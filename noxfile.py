"""Developer sessions: `nox -s tests`, `nox -s contract`, `nox -s lint`, `nox -s codegen`."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "codegen", "tests"]
nox.needs_version = ">=2024.10"


def install(session: nox.Session, *groups: str) -> None:
    session.install("--upgrade", "pip>=25.1")
    session.install("-e", ".[codegen]", *(arg for g in groups for arg in ("--group", g)))


@nox.session
def tests(session: nox.Session) -> None:
    """Every suite with branch coverage (fails under the floor in pyproject.toml)."""
    install(session, "test")
    session.run("pytest", "--cov", "--cov-branch", "--cov-report=term", *session.posargs)


@nox.session
def contract(session: nox.Session) -> None:
    """Schemathesis against the running Gunicorn service on PostgreSQL."""
    install(session, "test")
    session.run("pytest", "tests/contract", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format check), mypy --strict, and hadolint on the Dockerfile."""
    install(session, "lint")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("hadolint", "Dockerfile")


@nox.session
def codegen(session: nox.Session) -> None:
    """Fail when anything generated from openapi.yaml is stale."""
    install(session)
    session.run("python", "-m", "codegen", "--check", *session.posargs)
