"""``python -m runtime.auth.keys init|rotate|jwks --file PATH``: manage a key ring file.

WHY: the CLI lives in ``__main__`` of a package rather than at the end of a ``keys.py`` module:
``runtime.auth`` imports the key ring, and ``-m`` on a module its package already imported runs
a second copy of it (and Python warns about exactly that)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from runtime.auth.keys import KeyRing, KeyRingError

DEFAULT_ACCESS_TOKEN_TTL_S = 900


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m runtime.auth.keys",
        description="Create, rotate and publish the ES256 key ring that signs access tokens.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = commands.add_parser(
        "init", help="create a ring with an active and a next key (refuses to overwrite)"
    )
    rotate = commands.add_parser(
        "rotate", help="promote next to active, retire the active key, add a new next key"
    )
    jwks = commands.add_parser("jwks", help="print the public JWK Set to publish, one line")
    for command in (init, rotate, jwks):
        command.add_argument("--file", required=True, metavar="PATH", help="the key ring file")
    rotate.add_argument(
        "--access-token-ttl",
        type=int,
        default=DEFAULT_ACCESS_TOKEN_TTL_S,
        metavar="SECONDS",
        help="the service's access token lifetime: how long the retired key keeps verifying "
        f"(default {DEFAULT_ACCESS_TOKEN_TTL_S})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "init":
            ring = KeyRing.generate(args.file)
            print(f"created {ring.path}: {ring.summary()}")
        elif args.command == "rotate":
            if args.access_token_ttl <= 0:
                print("error: --access-token-ttl must be positive.", file=sys.stderr)
                return 2
            ring = KeyRing.rotate(args.file, access_token_ttl_s=args.access_token_ttl)
            print(f"rotated {ring.path}: {ring.summary()}")
        else:
            ring = KeyRing.load(args.file)
            print(json.dumps(ring.public_jwks(int(time.time())), separators=(",", ":")))
    except KeyRingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
