"""Prove the local semgrep rules still catch what they are for.

Runs the rules over semgrep/rules.py, whose `# ruleid: X` lines must be flagged by rule X on
the next line and whose `# ok: X` lines must not be. Exit 1 with the differences otherwise."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).resolve().parent.parent / "semgrep" / "rules.py"
RULES = CASES.with_suffix(".yml")


def expected() -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    flagged, clean = set(), set()
    for number, line in enumerate(CASES.read_text().splitlines(), start=1):
        match = re.search(r"#\s*(ruleid|ok):\s*([\w-]+)", line)
        if match:
            (flagged if match.group(1) == "ruleid" else clean).add((match.group(2), number + 1))
    return flagged, clean


def main() -> int:
    semgrep = shutil.which("semgrep")
    if semgrep is None:
        print("semgrep is not installed (nox -s security installs it)")
        return 2
    command = [semgrep, "scan", "--config", str(RULES), "--metrics=off", "--json", "--quiet"]
    output = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [*command, str(CASES)], capture_output=True, text=True, check=False
    )
    results = json.loads(output.stdout)["results"]
    found = {(r["check_id"].rsplit(".", 1)[-1], r["start"]["line"]) for r in results}
    flagged, clean = expected()
    missed, false_alarms = flagged - found, found & clean
    for rule, line in sorted(missed):
        print(f"semgrep/rules.py:{line}: rule {rule} no longer flags this case")
    for rule, line in sorted(false_alarms):
        print(f"semgrep/rules.py:{line}: rule {rule} flags a case it must allow")
    if missed or false_alarms:
        return 1
    print(f"semgrep rules: {len(flagged)} cases flagged, {len(clean)} allowed, as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
