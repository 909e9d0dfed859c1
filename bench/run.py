"""Side-by-side benchmark: the reference app (production mode) vs a hand-written Flask baseline
vs stock Connexion, on this machine, over loopback, driven by wrk.

    .venv/bin/python bench/run.py                 # 3 rounds x 10 s per cell (~12 min)
    .venv/bin/python bench/run.py --quick         # 2 rounds x 4 s per cell (~3 min)
    nox -s bench -- --quick

See bench/README.md for what each column means."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import yaml

from bench import common

OPERATIONS = {
    "get": ("getProject", "GET /projects/{id}"),
    "list": ("listProjects", "GET /projects?limit=20"),
    "post": ("createProject", "POST /projects"),
}
LUA = common.ROOT / "bench" / "wrk" / "ops.lua"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every cell (default 3)")
    parser.add_argument("--quick", action="store_true", help="2 rounds x 4 s, 2 s warm-up")
    parser.add_argument("--connections", default="16,64", help="comma-separated (default 16,64)")
    parser.add_argument("--ops", default="get,list,post", help="of get,list,post")
    parser.add_argument(
        "--apps",
        default="reference,baseline,stock",
        help="of reference,baseline,stock, reference-<dispatch>[-<threads>] (reference-thread-3), "
        "reference-nometrics, reference-traced",
    )
    parser.add_argument("--workers", type=int, default=2, help="Gunicorn workers of every app")
    parser.add_argument(
        "--baseline-workers",
        type=int,
        default=None,
        help="sync workers of the baseline (default: --workers; a sensitivity check only)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--timeout", type=int, default=5, help="wrk request timeout, s")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per app and op")
    parser.add_argument("--projects", type=int, default=1000, help="seeded projects of the user")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_api", help="created and dropped (bench*)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database after")
    parser.add_argument("--max-minutes", type=float, default=40, help="stop starting cells after")
    parser.add_argument(
        "--profile",
        default="",
        help="app:op[,app:op]: after the load, py-spy record one worker for one extra cell",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.warmup = 4, 2, 2
    args.connections = [int(c) for c in args.connections.split(",") if c]
    args.ops = [o for o in args.ops.split(",") if o]
    args.apps = [a for a in args.apps.split(",") if a]
    for op in args.ops:
        if op not in OPERATIONS:
            parser.error(f"unknown op {op!r}")
    for app in args.apps:
        if common.app_spec(app) is None:
            parser.error(f"unknown app {app!r}")
    if not 1 <= args.duration <= 120 or not 1 <= args.rounds <= 10:
        parser.error("--duration must be 1..120 s and --rounds 1..10")
    return args


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(
            "wrk is not installed. On Debian/Ubuntu: sudo apt-get install -y wrk\n"
            "(the benchmark only ever drives 127.0.0.1)."
        )
    return wrk


def rate_limits_needed_off() -> tuple[bool, str]:
    """RATE_LIMITS=false only when a limit would throttle the benchmarked operations."""
    spec = yaml.safe_load((common.ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    limited = []
    if spec.get("x-rate-limit"):
        limited.append("document default")
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if (
                isinstance(operation, dict)
                and operation.get("operationId") in {o for o, _ in OPERATIONS.values()}
                and operation.get("x-rate-limit")
            ):
                limited.append(operation["operationId"])
    if limited:
        return True, (
            "RATE_LIMITS=false for the reference app: x-rate-limit on "
            f"{', '.join(limited)} would otherwise throttle the load."
        )
    return False, (
        "Rate limits ON in the reference app (RATE_LIMITS=true, middleware installed); "
        "the benchmarked operations declare no x-rate-limit, so nothing is throttled."
    )


@dataclass
class Cell:
    app: str
    op: str
    connections: int
    round: int
    wrk: dict[str, Any]
    cpu_ticks: int
    cpu_sys_ticks: int
    rss_kib: list[int]
    workers: list[int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        w = self.wrk
        return int(w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"])


def run_wrk(
    wrk: str,
    server: common.Server,
    op: str,
    connections: int,
    seconds: int,
    args: argparse.Namespace,
    env: dict[str, str],
) -> dict[str, Any]:
    threads = max(1, min(args.threads, connections))
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{args.timeout}s",
        "-s",
        str(LUA),
        f"{server.base}/api/v1/projects",
    ]
    result = subprocess.run(  # noqa: S603 - fixed argv against our loopback server
        command,
        env={**env, "BENCH_OP": op},
        capture_output=True,
        text=True,
        timeout=seconds + args.timeout + 30,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return data
    raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def measure(
    wrk: str,
    server: common.Server,
    op: str,
    connections: int,
    round_: int,
    args: argparse.Namespace,
    env: dict[str, str],
) -> Cell:
    user0, sys0 = common.cpu_ticks(server.pid)
    stats = run_wrk(wrk, server, op, connections, args.duration, args, env)
    user1, sys1 = common.cpu_ticks(server.pid)
    workers = server.workers()
    rss = [r for r in (common.rss_kib(p) for p in workers) if r is not None]
    ticks, sys_ticks = (user1 + sys1) - (user0 + sys0), sys1 - sys0
    return Cell(server.name, op, connections, round_, stats, ticks, sys_ticks, rss, workers)


def sanity_check(server: common.Server, token: str, project_id: str) -> dict[str, Any]:
    """Each app answers the three operations alike before any load (and refuses no token)."""
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{server.base}/api/v1"
    with httpx.Client(timeout=5) as client:
        got = client.get(f"{api}/projects/{project_id}", headers=auth)
        listed = client.get(f"{api}/projects?limit=20", headers=auth)
        created = client.post(
            f"{api}/projects", headers=auth, json={"name": "sanity", "description": None}
        )
        anonymous = client.get(f"{api}/projects/{project_id}")
        invalid = client.post(f"{api}/projects", headers=auth, json={"name": ""})
    report = {
        "get": got.status_code,
        "list": listed.status_code,
        "list_items": len(listed.json().get("items", [])) if listed.status_code == 200 else None,
        "list_link": "link" in listed.headers,
        "post": created.status_code,
        "post_location": "location" in created.headers,
        "no_token": anonymous.status_code,
        "invalid_body": invalid.status_code,
    }
    expected = {
        "get": 200,
        "list": 200,
        "list_items": 20,
        "list_link": True,
        "post": 201,
        "post_location": True,
        "no_token": 401,
        "invalid_body": 400,
    }
    wrong = {k: v for k, v in report.items() if expected[k] != v}
    if wrong:
        raise RuntimeError(
            f"{server.name} answered unlike the others: {wrong} (expected {expected})"
        )
    return report


def aggregate(cells: list[Cell], apps: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    keys = sorted(
        {(c.op, c.connections) for c in cells}, key=lambda k: (list(OPERATIONS).index(k[0]), k[1])
    )
    for op, connections in keys:
        group: dict[str, dict[str, Any]] = {}
        for app in apps:
            mine = [
                c for c in cells if c.app == app and c.op == op and c.connections == connections
            ]
            if not mine:
                continue
            requests = sum(c.wrk["requests"] for c in mine)
            seconds = sum(c.wrk["duration_us"] for c in mine) / 1e6
            ticks = sum(c.cpu_ticks for c in mine)
            rss = [statistics.mean(c.rss_kib) for c in mine if c.rss_kib]
            group[app] = {
                "op": op,
                "operation": OPERATIONS[op][1],
                "connections": connections,
                "app": app,
                "rounds": len(mine),
                "requests": requests,
                "rps": requests / seconds if seconds else 0.0,
                "rps_rounds": [
                    round(c.wrk["requests"] / (c.wrk["duration_us"] / 1e6), 1) for c in mine
                ],
                "p50_ms": statistics.median(c.wrk["p50_us"] for c in mine) / 1000,
                "p95_ms": statistics.median(c.wrk["p95_us"] for c in mine) / 1000,
                "p99_ms": statistics.median(c.wrk["p99_us"] for c in mine) / 1000,
                "p99_worst_ms": max(c.wrk["p99_us"] for c in mine) / 1000,
                "errors": sum(c.errors for c in mine),
                "errors_by_kind": {
                    k: sum(int(c.wrk[k]) for c in mine)
                    for k in ("connect", "read", "write", "status", "timeout")
                },
                "cpu_us_per_req": ticks * 1e6 / common.CLK_TCK / requests if requests else None,
                "cpu_sys_share": sum(c.cpu_sys_ticks for c in mine) / ticks if ticks else None,
                "rss_mib_per_worker": statistics.mean(rss) / 1024 if rss else None,
                "rss_mib_per_worker_max": max(max(c.rss_kib) for c in mine if c.rss_kib) / 1024
                if rss
                else None,
            }
        base = group.get("baseline")
        for app, row in group.items():
            if base and app != "baseline":
                row["rps_x_baseline"] = row["rps"] / base["rps"] if base["rps"] else None
                row["cpu_x_baseline"] = (
                    row["cpu_us_per_req"] / base["cpu_us_per_req"]
                    if row["cpu_us_per_req"] and base["cpu_us_per_req"]
                    else None
                )
                row["p95_x_baseline"] = row["p95_ms"] / base["p95_ms"] if base["p95_ms"] else None
                row["rss_x_baseline"] = (
                    row["rss_mib_per_worker"] / base["rss_mib_per_worker"]
                    if row["rss_mib_per_worker"] and base["rss_mib_per_worker"]
                    else None
                )
            rows.append(row)
    return rows


def progress(cell: Cell, done: int, total: int) -> None:
    w = cell.wrk
    rps = w["requests"] / (w["duration_us"] / 1e6)
    cpu = cell.cpu_ticks * 1e6 / common.CLK_TCK / max(1, w["requests"])
    print(
        f"[bench] {done:>3}/{total} r{cell.round + 1} {cell.op:<4} c{cell.connections:<3} "
        f"{cell.app:<9} {rps:8.0f} req/s  p95 {w['p95_us'] / 1000:7.1f} ms  "
        f"errors {cell.errors}  CPU {cpu:6.0f} us/req",
        flush=True,
    )


def pct(share: float | None) -> float | None:
    return None if share is None else 100 * share


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark {meta['started']}",
        "",
        f"- machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores, Linux "
        f"{meta['machine']['kernel']}, Python {meta['machine']['python']}; load average before "
        f"{' '.join(meta['machine']['loadavg'])}, after {' '.join(meta['loadavg_after'])}",
        f"- commit: {meta['revision']}; {meta['workers']} Gunicorn workers per app "
        f"(baseline {meta['baseline_workers']}); wrk "
        f"{meta['threads']} threads, {meta['rounds']} rounds x {meta['duration_s']} s per cell, "
        f"apps interleaved (order rotated each round); {meta['projects']} seeded projects",
        f"- {meta['rate_limits']}",
        "- apps: " + "; ".join(f"**{a}** = {common.require_app(a).what}" for a in meta["apps"]),
        "- worker restarts during the run (max_requests): "
        + ", ".join(f"{a} {n}" for a, n in meta["worker_restarts"].items()),
        "",
        "| operation | conns | app | req/s | p50 ms | p95 ms | p99 ms | errors | CPU µs/req "
        "| sys % | RSS/worker MiB | req/s x base | CPU x base | p95 x base | RSS x base |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['operation']} | {r['connections']} | {r['app']} | {fmt(r['rps'], 0)} | "
            f"{fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} | {r['errors']} | "
            f"{fmt(r['cpu_us_per_req'], 0)} | {fmt(pct(r['cpu_sys_share']), 0)} | "
            f"{fmt(r['rss_mib_per_worker'])} | "
            f"{fmt(r.get('rps_x_baseline'), 2)} | {fmt(r.get('cpu_x_baseline'), 2)} | "
            f"{fmt(r.get('p95_x_baseline'), 2)} | {fmt(r.get('rss_x_baseline'), 2)} |"
        )
    lines += [
        "",
        "Errors = wrk non-2xx/3xx responses + socket errors (connect, read, write, timeout). "
        "CPU = utime+stime of the Gunicorn master and all its workers (incl. reaped ones) per "
        "completed request; sys % = its kernel share. p50/p95/p99 = median over rounds. "
        "x base = app / baseline.",
    ]
    return "\n".join(lines) + "\n"


def profile(
    specs: str,
    servers: dict[str, common.Server],
    wrk: str,
    args: argparse.Namespace,
    env: dict[str, str],
    out: Path,
) -> list[dict[str, Any]]:
    """py-spy record (collapsed stacks) of one worker during an extra, unreported cell."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("[bench] py-spy not found: pip install py-spy (profiling skipped)")
        return []
    found = []
    for spec in [s for s in specs.split(",") if s]:
        app, op = spec.split(":")
        server = servers[app]
        worker = server.workers()[0]
        raw = out / f"profile-{app}-{op}.txt"
        seconds = max(3, args.duration)
        command = [spy, "record", "--pid", str(worker), "--duration", str(seconds)]
        command += ["--rate", "250", "--nonblocking", "--format", "raw", "--output", str(raw)]
        recorder = subprocess.Popen(  # noqa: S603 - fixed argv, our own worker
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        time.sleep(0.5)
        run_wrk(wrk, server, op, 16, seconds, args, env)
        try:
            recorder.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
        if raw.exists():
            top = top_frames(raw)
            found.append({"app": app, "op": op, "worker": worker, "raw": str(raw), "top_self": top})
    return found


def top_frames(raw: Path, count: int = 25) -> list[tuple[str, float]]:
    """Self and inclusive share of the sampled stacks (py-spy's collapsed format)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        # WHY: samples without a Python frame (a worker exiting at max_requests) say nothing.
        if not samples.isdigit() or not stack.strip():
            continue
        n = int(samples)
        total += n
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:count]
    return [(frame, round(100 * n / total, 1)) for frame, n in ranked] if total else []


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    wrk = require_wrk()
    started = datetime.now(UTC)
    deadline = time.monotonic() + args.max_minutes * 60
    out = common.RESULTS / started.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "machine": common.machine(),
        "revision": common.git_revision(),
        "workers": args.workers,
        "baseline_workers": args.baseline_workers or args.workers,
        "threads": args.threads,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "projects": args.projects,
        "apps": args.apps,
        "connections": args.connections,
        "ops": args.ops,
    }
    limits_off, note = rate_limits_needed_off()
    meta["rate_limits"] = note
    print(f"[bench] results in {out}\n[bench] {note}", flush=True)

    url = common.create_database(args.pg_admin_url, args.database)
    seeded = common.seed(url, args.projects)
    keys = common.key_ring(out / "jwt-keys.json")
    cells_total = len(args.apps) * len(args.ops) * len(args.connections) * args.rounds
    ttl = int(cells_total * (args.duration + 5) + 3600)
    token = common.access_token(keys, seeded.user_id, ttl)
    ids_file = out / "project-ids.txt"
    ids_file.write_text("\n".join(str(i) for i in seeded.project_ids[:500]) + "\n")
    env = common.base_environment(
        database_url=url,
        redis_url=args.redis_url,
        keys_file=keys,
        workers=args.workers,
        rate_limits=not limits_off,
    )
    wrk_env = {**os.environ, "BENCH_TOKEN": token, "BENCH_IDS": str(ids_file)}
    print(
        f"[bench] database {args.database}: {args.projects} projects seeded; starting apps",
        flush=True,
    )

    servers: dict[str, common.Server] = {}
    cells: list[Cell] = []
    try:
        for name in args.apps:  # one after another, each fully up before the next starts
            workers = args.workers
            if name == "baseline" and args.baseline_workers:
                workers = args.baseline_workers
            server = common.start(name, {**env, "WEB_CONCURRENCY": str(workers)}, out)
            servers[name] = server
            common.wait_ready(server, token, workers)
            meta.setdefault("sanity", {})[name] = sanity_check(
                server, token, str(seeded.project_ids[0])
            )
            print(
                f"[bench] {name} up on :{server.port} (master {server.pid}, workers "
                f"{server.workers()})",
                flush=True,
            )
        initial_workers = {n: set(s.workers()) for n, s in servers.items()}
        for server in servers.values():
            for op in args.ops:
                run_wrk(wrk, server, op, args.connections[0], args.warmup, args, wrk_env)
        print("[bench] warm-up done", flush=True)
        total = cells_total
        for round_ in range(args.rounds):
            for op in args.ops:
                for connections in args.connections:
                    k = round_ % len(args.apps)
                    for name in args.apps[k:] + args.apps[:k]:
                        if time.monotonic() > deadline:
                            raise TimeoutError("--max-minutes reached")
                        cell = measure(wrk, servers[name], op, connections, round_, args, wrk_env)
                        cells.append(cell)
                        progress(cell, len(cells), total)
        meta["worker_restarts"] = {
            n: len(s.worker_pids_seen - initial_workers[n]) for n, s in servers.items()
        }
        if args.profile:
            meta["profiles"] = profile(args.profile, servers, wrk, args, wrk_env, out)
    except TimeoutError as exc:
        print(f"[bench] stopped early: {exc}", flush=True)
        meta.setdefault("worker_restarts", {n: 0 for n in servers})
    finally:
        for server in servers.values():
            common.stop(server)
        if not args.keep_db:
            common.drop_database(args.pg_admin_url, args.database)

    meta["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    rows = aggregate(cells, args.apps)
    table = markdown(rows, meta)
    (out / "results.json").write_text(
        json.dumps(
            {"meta": meta, "rows": rows, "cells": [c.__dict__ for c in cells]},
            indent=2,
            default=str,
        )
    )
    (out / "results.md").write_text(table)
    shutil.copyfile(out / "results.md", common.RESULTS / "latest.md")
    shutil.copyfile(out / "results.json", common.RESULTS / "latest.json")
    print()
    print(table)
    for found in meta.get("profiles", []):
        print(f"py-spy {found['app']} {found['op']} (worker {found['worker']}), top self time:")
        for frame, share in found["top_self"][:15]:
            print(f"  {share:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
