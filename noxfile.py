"""Developer sessions: `nox -s tests`, `nox -s contract`, `nox -s lint`, `nox -s codegen`,
`nox -s spectral` (and, not by default, `security`, `bench`, `corpus`, `mutation`,
`breaking`, and `release`, which builds the release artefacts with an SBOM)."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "codegen", "spectral", "tests"]
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
    """Schemathesis against the running Gunicorn service on PostgreSQL.

    ``nox -s contract -- --seed random`` (or ``--seed N``, or CONTRACT_SEED) picks the seed; the
    run prints it. Other arguments go to pytest."""
    install(session, "test")
    args = list(session.posargs)
    env = {}
    if "--seed" in args:
        at = args.index("--seed")
        env["CONTRACT_SEED"] = args[at + 1]
        del args[at : at + 2]
    session.run("pytest", "tests/contract", "-p", "no:cacheprovider", "-rP", *args, env=env)


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


@nox.session
def spectral(session: nox.Session) -> None:
    """Spectral with the OpenAPI and OWASP API rulesets (.spectral.yaml): fails on any error."""
    session.run("scripts/spectral/lint", *session.posargs, external=True)


@nox.session(default=False)
def security(session: nox.Session) -> None:
    """bandit, semgrep (local rules, self-tested) and pip-audit --strict of the runtime deps."""
    session.install("--upgrade", "pip>=25.1")
    session.install("-e", ".")
    frozen = session.run("pip", "freeze", "--exclude-editable", silent=True, external=False)
    requirements = session.create_tmp() + "/requirements.txt"
    with open(requirements, "w", encoding="utf-8") as handle:
        handle.write(str(frozen))
    session.install("bandit[toml]>=1.8", "semgrep>=1.100", "pip-audit>=2.7")
    session.run("bandit", "-q", "-c", "pyproject.toml", "-r", "codegen", "runtime", "app")
    session.run("python", "scripts/check_semgrep_rules.py")
    session.run(
        "semgrep",
        "scan",
        "--config",
        "semgrep/rules.yml",
        "--metrics=off",
        "--error",
        "codegen",
        "runtime",
        "app",
    )
    audit = session.run(
        "pip-audit",
        "--strict",
        "--no-deps",
        "--disable-pip",
        "-r",
        requirements,
        success_codes=[0, 1],
        silent=True,
    )
    output = str(audit)
    # WHY: pip-audit asks PyPI's vulnerability API; where that is unreachable it reports
    # packages as "not found" - which must read as "not run", never as "no known vulnerabilities".
    if "could not be audited" in output or "ConnectionError" in output:
        session.log(output)
        session.skip("pip-audit: NOT RUN - the vulnerability database could not be reached.")
    session.log(output)
    if "No known vulnerabilities found" not in output:
        session.error("pip-audit found known vulnerabilities (above).")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Reference app vs hand-written Flask vs stock Connexion under wrk (bench/README.md).

    Needs PostgreSQL and Redis on 127.0.0.1 and wrk (apt-get install -y wrk); pass-through
    arguments go to bench/run.py, e.g. `nox -s bench -- --quick`."""
    install(session)
    session.install("py-spy>=0.4")
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # WHY: a fresh machine has no wrk; Debian packages it, and the bench is loopback-only.
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "wrk", external=True)
    session.run("python", "bench/run.py", *session.posargs)


@nox.session(default=False)
def corpus(session: nox.Session) -> None:
    """codegen on every real-world spec of ../shared/specs beside the clone: generate, import,
    ruff and mypy with this repository's settings, regenerate; datamodel-code-generator on the
    same documents for comparison. Prints the strict table, then the lenient one (without the
    comparison, which does not change). Slow: minutes, not seconds. Posargs replace both runs
    (e.g. `nox -s corpus -- --only box`)."""
    install(session, "lint")
    if session.posargs:
        session.run("python", "scripts/codegen_corpus.py", *session.posargs)
        return
    session.run("python", "scripts/codegen_corpus.py", success_codes=[0, 1])
    session.run("python", "scripts/codegen_corpus.py", "--lenient", "--no-dmcg")


@nox.session(default=False)
def mutation(session: nox.Session) -> None:
    """mutmut 3 on the critical modules, each against its own unit tests and within a time
    bound; prints the table and every surviving mutant (docs/TESTING.md). Minutes per module.
    Pass-through arguments go to scripts/mutation.py, e.g.
    `nox -s mutation -- codegen/checks/diff.py`."""
    install(session, "test", "mutation")
    session.run("python", "scripts/mutation.py", *session.posargs)


@nox.session(default=False)
def breaking(session: nox.Session) -> None:
    """Fail on a breaking change of openapi.yaml against `main` (or the ref in posargs),
    unless the major number of info.version went up."""
    install(session)
    session.run("python", "-m", "codegen", "diff", *(session.posargs or ["main"]))


@nox.session(default=False)
def release(session: nox.Session) -> None:
    """The release artefacts in dist/: wheel and sdist, a CycloneDX SBOM of the runtime
    environment, and a record of the versions (codegen, runtime, API) and the migration head."""
    session.install("--upgrade", "pip>=25.1", "build", "cyclonedx-bom>=7")
    shutil.rmtree("dist", ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", "dist")
    session.install(".")
    session.run(
        "cyclonedx-py",
        "environment",
        "--output-format",
        "JSON",
        "--output-file",
        "dist/sbom.cdx.json",
        session.virtualenv.location,
    )
    session.run(
        "python",
        "-c",
        "import json, yaml, codegen, runtime; from app.migrate import heads;"
        "spec = yaml.safe_load(open('openapi.yaml'));"
        "print(json.dumps({'codegen': codegen.__version__, 'runtime': runtime.__version__,"
        " 'api': spec['info']['version'], 'migration_head': heads()}, indent=2))",
        stdout=open("dist/release.json", "w"),  # noqa: SIM115 - nox closes it with the session
    )
