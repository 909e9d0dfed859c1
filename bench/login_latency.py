"""Latency of ``POST /auth/token`` (argon2id, m=19456 KiB, t=2, p=1) on the production-mode
reference app under Gunicorn: sequential logins, then N concurrent clients; bounded in count
and time. Rate limits are OFF for this run (RATE_LIMITS=false): the login limit (5/minute per
account) would otherwise answer 429 after the fifth attempt.

    .venv/bin/python bench/login_latency.py [--sequential 30] [--concurrent 4] [--per-client 10]"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import common

NOTE = (
    "RATE_LIMITS=false for this run only: POST /auth/token allows 5/minute per account, "
    "which would turn a latency run into 429s. Everything else as in production."
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def login(client: httpx.Client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post(
        url, json={"email": common.BENCH_EMAIL, "password": common.BENCH_PASSWORD}
    )
    return (time.perf_counter() - started) * 1000, response.status_code


def run_clients(
    url: str, clients: int, per_client: int, deadline: float
) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(per_client):
                if time.monotonic() > deadline:
                    return
                ms, status = login(client, url)
                with lock:
                    latencies.append(ms)
                    statuses.append(status)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def summary(
    name: str, latencies: list[float], statuses: list[int], seconds: float
) -> dict[str, Any]:
    ok = [ms for ms, status in zip(latencies, statuses, strict=True) if status == 200]
    return {
        "run": name,
        "requests": len(latencies),
        "errors": sum(1 for s in statuses if s != 200),
        "statuses": sorted(set(statuses)),
        "rps": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": percentile(ok, 50) if ok else None,
        "p95_ms": percentile(ok, 95) if ok else None,
        "mean_ms": statistics.mean(ok) if ok else None,
        "max_ms": max(ok) if ok else None,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=30, help="logins one after another")
    parser.add_argument("--concurrent", type=int, default=4, help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=10, help="logins per concurrent client")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-seconds", type=float, default=180, help="stop logging in after")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_login")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args(argv)
    if args.sequential > 1000 or args.concurrent * args.per_client > 4000 or args.concurrent > 64:
        parser.error(
            "keep it bounded: <= 1000 sequential, <= 4000 concurrent logins, <= 64 clients"
        )

    started = datetime.now(UTC)
    out = common.RESULTS / f"login-{started.strftime('%Y%m%dT%H%M%SZ')}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"[login] {NOTE}", flush=True)
    url = common.create_database(args.pg_admin_url, args.database)
    seeded = common.seed(url, 10, other_projects=0)
    keys = common.key_ring(out / "jwt-keys.json")
    token = common.access_token(keys, seeded.user_id, 3600)
    env = common.base_environment(
        database_url=url,
        redis_url=args.redis_url,
        keys_file=keys,
        workers=args.workers,
        rate_limits=False,
    )
    server = common.start("reference", env, out)
    deadline = time.monotonic() + args.max_seconds
    results = []
    try:
        common.wait_ready(server, token, args.workers)
        endpoint = f"{server.base}/api/v1/auth/token"
        with httpx.Client(timeout=10) as client:
            for _ in range(args.warmup):
                login(client, endpoint)
            latencies, statuses = [], []
            begun = time.perf_counter()
            for _ in range(args.sequential):
                if time.monotonic() > deadline:
                    break
                ms, status = login(client, endpoint)
                latencies.append(ms)
                statuses.append(status)
            results.append(summary("sequential", latencies, statuses, time.perf_counter() - begun))
        latencies, statuses, seconds = run_clients(
            endpoint, args.concurrent, args.per_client, deadline
        )
        results.append(summary(f"{args.concurrent} concurrent", latencies, statuses, seconds))
    finally:
        common.stop(server)
        common.drop_database(args.pg_admin_url, args.database)

    meta = {
        "started": started.isoformat(timespec="seconds"),
        "machine": common.machine(),
        "revision": common.git_revision(),
        "workers": args.workers,
        "note": NOTE,
        "argon2id": "m=19456 KiB, t=2, p=1 (runtime.passwords.Passwords defaults)",
    }
    lines = [
        f"# POST /auth/token latency {meta['started']}",
        "",
        f"- {NOTE}",
        f"- reference app, production mode, {args.workers} Gunicorn workers (UvicornWorker); "
        f"argon2id {meta['argon2id']}; machine {meta['machine']['cpu']}, "
        f"{meta['machine']['cores']} cores, load average {' '.join(meta['machine']['loadavg'])}",
        "",
        "| run | logins | errors | logins/s | p50 ms | p95 ms | mean ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['run']} | {r['requests']} | {r['errors']} | {r['rps']:.1f} | "
            + " | ".join(
                "-" if r[k] is None else f"{r[k]:.1f}"
                for k in ("p50_ms", "p95_ms", "mean_ms", "max_ms")
            )
            + " |"
        )
    table = "\n".join(lines) + "\n"
    (out / "login.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    (out / "login.md").write_text(table)
    (common.RESULTS / "login-latest.md").write_text(table)
    print()
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
