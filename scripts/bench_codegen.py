"""Time codegen: ``--check`` on the repository's spec, and generating the largest corpus document.

``.venv/bin/python scripts/bench_codegen.py [--runs N] [--corpus DIR]`` - a measurement, not a
test; the goals are 2 s and 30 s."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = '[tool.codegen]\nspec = "openapi.yaml"\npackage = "gen.api"\n'


def _time(command: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, check=False)  # noqa: S603
    return time.perf_counter() - start, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "specs")
    args = parser.parse_args()
    python = sys.executable
    check = [_time([python, "-m", "codegen", "--check"], ROOT) for _ in range(args.runs)]
    seconds = [s for s, _ in check]
    print(
        f"--check on openapi.yaml: median {statistics.median(seconds):.2f} s, "
        f"min {min(seconds):.2f} s over {args.runs} runs (exit {check[-1][1]}; goal <= 2 s)"
    )
    documents = [p for p in args.corpus.iterdir() if p.suffix in (".yaml", ".yml", ".json")]
    largest = max(documents, key=lambda p: p.stat().st_size)
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        (project / "pyproject.toml").write_text(PYPROJECT)
        (project / "openapi.yaml").write_bytes(largest.read_bytes())
        spent, code = _time([python, "-m", "codegen", "--lenient"], project)
        again, code_again = _time([python, "-m", "codegen", "--lenient", "--check"], project)
    size = largest.stat().st_size / 1e6
    print(
        f"generate {largest.name} ({size:.2f} MB): {spent:.1f} s (exit {code}); "
        f"--check after it: {again:.1f} s (exit {code_again}); goal <= 30 s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
