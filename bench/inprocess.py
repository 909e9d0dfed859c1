"""In-process comparison without HTTP: the reference app's ASGI stack vs the baseline's WSGI app.

Both apps are built in this process against the same PostgreSQL database, Redis and key ring,
and are called directly (no server, no sockets), alternating blocks of requests. It isolates
what the framework costs per request from what the HTTP servers cost, and is far less noisy
than wrk on a shared machine, so use it while optimising; ``run.py`` stays the measure of record.

    .venv/bin/python bench/inprocess.py                  # get, list, post; 2,000 requests each
    .venv/bin/python bench/inprocess.py --profile get    # + cProfile of the reference app
    .venv/bin/python bench/inprocess.py --observability  # metrics on vs off vs tracing on
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.run import rate_limits_needed_off  # noqa: E402

BODY = b'{"name": "Benchmark project", "description": "Created in-process by bench/inprocess.py."}'


def requests_for(op: str, ids: list[str]) -> Callable[[int], tuple[str, str, str, bytes]]:
    """``n -> (method, path, query, body)`` for one operation."""
    if op == "get":
        return lambda n: ("GET", f"/api/v1/projects/{ids[n % len(ids)]}", "", b"")
    if op == "list":
        return lambda n: ("GET", "/api/v1/projects", "limit=20", b"")
    return lambda n: ("POST", "/api/v1/projects", "", BODY)


class AsgiDriver:
    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.headers = [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"accept", b"application/json"),
        ]

    def call(self, method: str, path: str, query: str, body: bytes) -> int:
        headers = list(self.headers)
        if body:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        self.loop.run_until_complete(self.app(scope, receive, send))
        return status


class WsgiDriver:
    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token

    def call(self, method: str, path: str, query: str, body: bytes) -> int:
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "HTTP_ACCEPT": "application/json",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        result: list[int] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
            result.append(int(status[:3]))

        chunks = self.app(environ, start_response)
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return result[0]


def measure(
    driver: Any, make: Callable[[int], tuple[str, str, str, bytes]], count: int
) -> tuple[float, float]:
    """CPU and wall microseconds per request over ``count`` requests (all threads' CPU)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(count):
        status = driver.call(*make(n))
        if status >= 300:
            raise SystemExit(f"unexpected status {status}")
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


def compare_observability(args: Any, metrics_on: AsgiDriver, token: str, ids: list[str]) -> None:
    """CPU per request of the reference app: metrics on, metrics off, and tracing on (spans
    to the SDK's in-memory exporter, cleared after each block), in alternating blocks."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import app as reference_app
    from app.config import load_settings
    from app.wiring import extensions
    from runtime.tracing import configure_tracing, shutdown_tracing

    settings = load_settings().model_copy(update={"metrics_enabled": False})
    metrics_off = AsgiDriver(reference_app.create_app(settings), token)
    exporter = InMemorySpanExporter()
    for op in args.ops.split(","):
        make = requests_for(op, ids)
        totals = {"metrics on": 0.0, "metrics off": 0.0, "tracing on": 0.0}
        blocks = max(1, args.requests // args.block)
        for round_ in range(blocks + 1):
            for name, driver in (("metrics on", metrics_on), ("metrics off", metrics_off)):
                cpu, _ = measure(driver, make, args.block)
                totals[name] += cpu if round_ else 0.0  # WHY: round 0 warms up
            configure_tracing(engine=extensions(metrics_on.app.app).db.engine, exporter=exporter)
            cpu, _ = measure(metrics_on, make, args.block)
            shutdown_tracing()
            exporter.clear()
            totals["tracing on"] += cpu if round_ else 0.0
        base = totals["metrics off"]
        print(
            f"{op:5} "
            + " | ".join(
                f"{name} cpu {total / blocks:7.0f} us/req ({total / base - 1:+.1%})"
                for name, total in totals.items()
            ),
            file=sys.__stdout__,
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", default="get,list,post")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--profile", default="", help="op to cProfile in the reference app")
    parser.add_argument("--top", type=int, default=30, help="functions listed per profile")
    parser.add_argument(
        "--observability",
        action="store_true",
        help="compare the reference app with metrics on (default), metrics off, and tracing on "
        "(the SDK's in-memory exporter) instead of reference vs baseline",
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="bench_inprocess")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-inprocess-"))
    url = common.create_database(args.pg_admin_url, args.database)
    seeded = common.seed(url, 500)
    keys = common.key_ring(workdir / "jwt-keys.json")
    token = common.access_token(keys, seeded.user_id, 3600)
    # WHY: as in run.py: a limit covering the benchmarked operations would throttle the load.
    limits_off, note = rate_limits_needed_off()
    print(note, file=sys.__stdout__)
    os.environ.update(
        common.base_environment(
            database_url=url,
            redis_url=args.redis_url,
            keys_file=keys,
            workers=1,
            rate_limits=not limits_off,
        )
    )
    os.environ.setdefault("LOG_LEVEL", "INFO")
    # WHY: both apps log to this process's stderr; the access log is part of the measured work,
    # the terminal is not.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115

    import app as reference_app
    from bench.baseline import app as baseline_app

    drivers = {
        "reference": AsgiDriver(reference_app.create_app(), token),
        "baseline": WsgiDriver(baseline_app.create_app().wsgi_app, token),
    }
    ids = [str(i) for i in seeded.project_ids]
    if args.observability:
        try:
            compare_observability(args, drivers["reference"], token, ids)
        finally:
            common.drop_database(args.pg_admin_url, args.database)
        return
    print(f"mode FLASK_DISPATCH={os.environ.get('FLASK_DISPATCH', 'thread')}", file=sys.__stdout__)
    try:
        for op in args.ops.split(","):
            make = requests_for(op, ids)
            for driver in drivers.values():
                measure(driver, make, 100)  # warm-up
            totals = {name: [0.0, 0.0] for name in drivers}
            for _ in range(max(1, args.requests // args.block)):
                for name, driver in drivers.items():
                    cpu, wall = measure(driver, make, args.block)
                    totals[name][0] += cpu
                    totals[name][1] += wall
            blocks = max(1, args.requests // args.block)
            ref, base = totals["reference"], totals["baseline"]
            print(
                f"{op:5} reference cpu {ref[0] / blocks:7.0f} us wall {ref[1] / blocks:7.0f} us | "
                f"baseline cpu {base[0] / blocks:7.0f} us wall {base[1] / blocks:7.0f} us | "
                f"cpu x base {ref[0] / base[0]:.2f}",
                file=sys.__stdout__,
                flush=True,
            )
            if op == args.profile:
                for name, driver in drivers.items():
                    profiler = cProfile.Profile()
                    profiler.enable()
                    measure(driver, make, 500)
                    profiler.disable()
                    path = workdir / f"{name}-{op}.prof"
                    profiler.dump_stats(str(path))
                    print(f"profile of {name}: {path}", file=sys.__stdout__)
                    stats = pstats.Stats(profiler, stream=sys.__stdout__)
                    stats.sort_stats("tottime").print_stats(args.top)
    finally:
        common.drop_database(args.pg_admin_url, args.database)


if __name__ == "__main__":
    main()
