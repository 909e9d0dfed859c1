"""Check an environment the way the service's start-up does, without starting it.

Usage: python scripts/verify_env.py [--env-file FILE]
Reads the process environment (plus FILE, lines of NAME=VALUE, if given), validates the
settings, and loads the JWT key ring. Exit 0 when the service would start, else 1 and the list
of problems, one per line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.config import Settings
from runtime import ConfigurationError, KeyRing, KeyRingError


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition("=")
        if not sep:
            raise SystemExit(f"{path}:{number}: expected NAME=VALUE")
        values[name.strip()] = value.strip().strip("'\"")
    return values


def problems() -> list[str]:
    try:
        settings = Settings.load()
    except ConfigurationError as exc:
        return [line.strip()[2:] for line in str(exc).splitlines()[1:]]
    found = []
    if settings.jwt_keys_file is not None:
        try:
            KeyRing.load(settings.jwt_keys_file)
        except KeyRingError as exc:
            found.append(f"JWT_KEYS_FILE: {exc}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", type=Path, help="NAME=VALUE lines to add to the environment")
    args = parser.parse_args(argv)
    if args.env_file:
        os.environ.update(read_env_file(args.env_file))
    found = problems()
    for problem in found:
        print(f"- {problem}")
    if found:
        print(f"{len(found)} problem(s): the service would refuse to start.", file=sys.stderr)
        return 1
    print("The environment is valid.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
