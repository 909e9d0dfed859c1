"""Mutation testing of the critical modules with mutmut 3, one module at a time.

Each module is mutated in a scratch copy of the tree (``.mutation/<module>/``, where mutmut
keeps its own ``mutants/``) against only its fast unit tests, within a time bound; then a table
(module, mutants, killed, survived, score) and the diff of every surviving mutant are printed.

    python scripts/mutation.py                      # every module below
    python scripts/mutation.py codegen/checks/diff.py   # one module
    python scripts/mutation.py --max-children 1 --timeout-s 300
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess  # nosec B404
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"


@dataclass(frozen=True)
class Module:
    path: str
    tests: tuple[str, ...]
    target: float


MODULES = (
    Module("runtime/auth/tokens.py", ("tests/unit/runtime/auth/test_tokens.py",), 90.0),
    Module(
        "runtime/ratelimit.py",
        ("tests/unit/runtime/test_ratelimit.py", "tests/unit/runtime/test_ratelimit_storage.py"),
        90.0,
    ),
    Module(
        "runtime/errors/__init__.py",
        ("tests/unit/runtime/test_errors.py", "tests/unit/runtime/test_edges.py"),
        90.0,
    ),
    # WHY not test_lint_and_diff.py: its CLI tests generate a whole project per mutant, which
    # takes the module past any reasonable bound; test_diff.py covers every rule directly.
    Module("codegen/checks/diff.py", ("tests/unit/codegen/test_diff.py",), 95.0),
    Module("app/modules/auth/service.py", ("tests/unit/app/test_auth_service.py",), 90.0),
    Module(
        "runtime/validation.py",
        ("tests/unit/runtime/test_validation.py", "tests/unit/runtime/test_body_validator.py"),
        90.0,
    ),
    Module(
        "runtime/idempotency.py",
        ("tests/unit/runtime/test_idempotency.py", "tests/unit/runtime/test_idempotency_hooks.py"),
        90.0,
    ),
    Module("runtime/deadline.py", ("tests/unit/runtime/test_deadline.py",), 90.0),
)

# Statuses mutmut reports; a timeout means the tests noticed (the mutant hung them).
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Result:
    module: Module
    statuses: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) - self.statuses["skipped"]

    @property
    def killed(self) -> int:
        return sum(self.statuses[s] for s in KILLED)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    def row(self) -> str:
        survived = str(self.statuses["survived"])
        extra = [
            f"+{self.statuses[s]} {s}"
            for s in ("no tests", "suspicious", "segfault", "not checked")
            if self.statuses[s]
        ]
        if extra:
            survived += f" ({', '.join(extra)})"
        mark = "" if self.score >= self.module.target else " < target"
        return (
            f"| `{self.module.path}` | {self.total} | {self.killed} | {survived} | "
            f"{self.score:.1f} %{mark} |"
        )


def scratch_path(module: Module) -> Path:
    return WORK / re.sub(r"[^A-Za-z0-9]+", "_", module.path.removesuffix(".py"))


def scratch_copy(module: Module) -> Path:
    """A fresh copy of the tracked and new files, with ``[tool.mutmut]`` set for ``module``."""
    where = scratch_path(module)
    shutil.rmtree(where, ignore_errors=True)
    listed = subprocess.run(  # nosec B603 B607
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = where / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pyproject = where / "pyproject.toml"
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", pyproject.read_text())
    tests = ", ".join(f'"{t}"' for t in module.tests if (ROOT / t).is_file())
    # WHY: mutmut copies only the sources and tests/ into mutants/; tests also read the spec
    # and other files at the top of the tree.
    tops = sorted({name.split("/")[0] for name in filter(None, listed.split("\0"))})
    also = ", ".join(f'"{t}"' for t in tops if t not in {"codegen", "runtime", "app", "tests"})
    pyproject.write_text(
        text
        + "\n[tool.mutmut]\n"
        + 'source_paths = ["codegen", "runtime", "app"]\n'
        + f'only_mutate = ["{module.path}"]\n'
        + f"pytest_add_cli_args_test_selection = [{tests}]\n"
        # WHY: a fixed order, so a survivor is the mutant's doing, not the order's.
        + 'pytest_add_cli_args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-q"]\n'
        + "use_git_change_detection = false\n"
        + f"also_copy = [{also}]\n"
    )
    return where


def mutmut(where: Path, *args: str, timeout: float | None = None) -> str:
    """mutmut's output; on ``timeout``, its whole process group (the forked workers too) is
    ended and :class:`subprocess.TimeoutExpired` raised."""
    with subprocess.Popen(  # noqa: S603  # nosec B603
        [sys.executable, "-m", "mutmut", *args],
        cwd=where,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # WHY: SIGTERM first so mutmut can write the verdicts it has; then no stragglers.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
            raise
    return output


def run_module(module: Module, *, max_children: int, timeout_s: float) -> Result:
    result = Result(module)
    where = scratch_copy(module)
    started = time.monotonic()
    output = ""
    try:
        output = mutmut(where, "run", "--max-children", str(max_children), timeout=timeout_s)
        log = where / "mutmut-run.log"
        log.write_text(output)
    except subprocess.TimeoutExpired:
        # WHY: mutmut records each verdict as it goes; what ran is reported, the rest is
        # counted as "not checked" rather than passed.
        result.timed_out = True
    result.seconds = time.monotonic() - started
    if not result.timed_out and "failed to collect stats" in output:
        raise SystemExit(f"mutation: {module.path}: the tests fail unmutated:\n{output[-3000:]}")
    for line in mutmut(where, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name and status:
            result.statuses[status] += 1
            if status in {"survived", "no tests", "suspicious"}:
                result.survivors.append(name)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="paths as in MODULES; default: all")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=900.0, help="bound per module")
    parser.add_argument("--no-diffs", action="store_true", help="names of survivors only")
    parser.add_argument("--work", type=Path, help="scratch directory (default .mutation/)")
    args = parser.parse_args(argv)
    if args.work is not None:
        global WORK
        WORK = args.work.resolve()
    chosen = [m for m in MODULES if not args.modules or m.path in args.modules]
    unknown = set(args.modules) - {m.path for m in MODULES}
    if unknown:
        parser.error(f"not a listed module: {', '.join(sorted(unknown))}")
    results = []
    for module in chosen:
        print(f"mutation: {module.path} against {' '.join(module.tests)}", flush=True)
        result = run_module(module, max_children=args.max_children, timeout_s=args.timeout_s)
        print(f"  {dict(result.statuses)} in {result.seconds:.0f} s", flush=True)
        results.append(result)
    for result in results:
        if not result.survivors:
            continue
        print(f"\n## Survivors of {result.module.path}")
        where = scratch_path(result.module)
        for name in result.survivors:
            print(name if args.no_diffs else mutmut(where, "show", name).rstrip())
    print("\n| module | mutants | killed | survived | score |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(result.row() + (" (time bound hit)" if result.timed_out else ""))
    below = [r for r in results if r.score < r.module.target or r.timed_out]
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
