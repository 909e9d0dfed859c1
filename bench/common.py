"""Shared by ``bench/run.py`` and ``bench/login_latency.py``: the bench database, the key ring,
tokens, starting and stopping each app under Gunicorn, and reading ``/proc``."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "correct horse battery staple bench"  # noqa: S105 - a throw-away bench account
OTHER_EMAIL = "other@example.com"

# name -> (gunicorn config, what it is); see also variant() for reference-<dispatch>[-<threads>]
APPS: dict[str, tuple[str, str]] = {
    "reference": ("docker/gunicorn.conf.py", "reference app, production mode, uvicorn worker"),
    "baseline": ("bench/baseline/gunicorn.conf.py", "hand-written Flask, gunicorn sync"),
    "stock": ("bench/stock/gunicorn.conf.py", "stock Connexion FlaskApp, UvicornWorker"),
}


# -- database, keys, tokens -------------------------------------------------------------------


def database_url(admin_url: str, name: str) -> str:
    base = admin_url.rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg2://', 1)}/{name}"


def create_database(admin_url: str, name: str) -> str:
    """Drop and re-create ``name`` (a bench-only database), migrate it, return its URL."""
    import psycopg2
    from psycopg2 import sql

    if not name.startswith("bench"):
        raise SystemExit(f"Refusing to drop database {name!r}: bench databases start with 'bench'.")
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()
    url = database_url(admin_url, name)
    from app.migrate import upgrade

    upgrade(url)
    return url


def drop_database(admin_url: str, name: str) -> None:
    import psycopg2
    from psycopg2 import sql

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        connection.close()


@dataclass
class Seed:
    user_id: uuid.UUID
    project_ids: list[uuid.UUID]


def seed(url: str, projects: int, other_projects: int = 200) -> Seed:
    """The bench user (with a real argon2id password) and its projects, plus another user's."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.modules.projects.models import Project
    from app.modules.users.models import User
    from runtime.passwords import Passwords

    engine = create_engine(url)
    hashed = Passwords().hash(BENCH_PASSWORD)
    user = User(id=uuid.uuid4(), email=BENCH_EMAIL, password_hash=hashed, role="user")
    other = User(id=uuid.uuid4(), email=OTHER_EMAIL, password_hash=hashed, role="user")
    start = datetime.now(UTC) - timedelta(days=30)
    user_id, mine = user.id, []
    rows = []
    for owner, count in ((user, projects), (other, other_projects)):
        for n in range(count):
            moment = start + timedelta(seconds=n * 60)
            project_id = uuid.uuid4()
            if owner is user:
                mine.append(project_id)
            rows.append(
                Project(
                    id=project_id,
                    name=f"Project {n}",
                    description=f"Seeded project {n} of {owner.email}",
                    owner_id=owner.id,
                    created_at=moment,
                    updated_at=moment,
                )
            )
    with Session(engine) as session, session.begin():
        session.add_all([user, other])
        session.flush()
        session.add_all(rows)
    engine.dispose()
    return Seed(user_id, mine)


def key_ring(path: Path) -> Path:
    from runtime.auth import KeyRing

    path.unlink(missing_ok=True)
    KeyRing.generate(path)
    return path


def access_token(keys_file: Path, subject: uuid.UUID, ttl_s: int) -> str:
    """A token as the app would issue it (same issuer, audience, key), valid for ``ttl_s``."""
    from app.config import Settings
    from runtime.auth import KeyRingSource, TokenService

    fields = Settings.model_fields
    tokens = TokenService(
        KeyRingSource(keys_file),
        issuer=str(fields["jwt_issuer"].default),
        audience=str(fields["jwt_audience"].default),
        access_token_ttl_s=ttl_s,
    )
    return tokens.issue_access_token(str(subject), ["projects"]).token


# -- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    worker_pids_seen: set[int] = field(default_factory=set)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        pids = children(self.pid)
        self.worker_pids_seen.update(pids)
        return pids


VARIANT = re.compile(r"reference-(inline|thread|a2wsgi)(?:-([1-9][0-9]?))?")


@dataclass(frozen=True)
class AppSpec:
    config: str  # the Gunicorn config file
    what: str
    env: Mapping[str, str] = field(default_factory=dict)  # on top of the shared environment


# The reference app with its instrumentation switched (docs/OBSERVABILITY.md, "Cost"); the
# reference itself has metrics on and tracing off, as in production by default.
OBSERVABILITY_VARIANTS: dict[str, Callable[[], dict[str, str]]] = {
    "reference-nometrics": lambda: {"METRICS_ENABLED": "false"},
    "reference-traced": lambda: {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_sink_port()}",
        "OTEL_BSP_SCHEDULE_DELAY": "1000",
    },
}


def app_spec(name: str) -> AppSpec | None:
    """An app of APPS or a reference variant, None if unknown."""
    if name in APPS:
        return AppSpec(*APPS[name])
    if name in OBSERVABILITY_VARIANTS:
        env = OBSERVABILITY_VARIANTS[name]()
        what = "the reference app with " + ", ".join(f"{k}={v}" for k, v in env.items())
        return AppSpec(APPS["reference"][0], what, env)
    match = VARIANT.fullmatch(name)
    if match is None:
        return None
    dispatch, threads = match.groups()
    env = {"FLASK_DISPATCH": dispatch, **({"FLASK_THREADS": threads} if threads else {})}
    what = "the reference app with " + ", ".join(f"{k}={v}" for k, v in env.items())
    return AppSpec(APPS["reference"][0], what, env)


def require_app(name: str) -> AppSpec:
    spec = app_spec(name)
    if spec is None:
        raise ValueError(f"unknown app {name!r}")
    return spec


def base_environment(
    *, database_url: str, redis_url: str, keys_file: Path, workers: int, rate_limits: bool
) -> dict[str, str]:
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "JWT_"))
    }
    for name in ("WEB_CONCURRENCY", "AUTO_MIGRATE", "SWAGGER_UI", "VALIDATE_RESPONSES", "BIND"):
        keep.pop(name, None)
    return {
        **keep,
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JWT_KEYS_FILE": str(keys_file),
        "IDEMPOTENCY_FINGERPRINT_KEY": secrets.token_urlsafe(32),
        "OPENAPI_SPEC": str(ROOT / "openapi.yaml"),
        "AUTO_MIGRATE": "false",
        "WEB_CONCURRENCY": str(workers),
        "RATE_LIMITS": "true" if rate_limits else "false",
        # WHY: the baseline leaves every waiting connection in the kernel's backlog; the
        # reference sheds past FLASK_QUEUE (16 per worker) with a 503, which turned its
        # 64-connection cells into errors. The comparison gives both the same patience.
        "FLASK_QUEUE": keep.get("FLASK_QUEUE", "256"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def start(name: str, env: Mapping[str, str], log_dir: Path) -> Server:
    spec = require_app(name)
    port = free_port()
    log_path = log_dir / f"{name}.log"
    environment = {**env, **spec.env, "BIND": f"127.0.0.1:{port}"}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own gunicorn
            [str(GUNICORN), "-c", spec.config],
            cwd=ROOT,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, port, log_path)


def wait_ready(server: Server, token: str, workers: int, timeout_s: float = 60) -> None:
    """Until every worker is up and an authenticated list answers 200."""
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token}"}
    last = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_path.read_text()[-4000:]}")
        try:
            response = httpx.get(
                f"{server.base}/api/v1/projects?limit=1", headers=headers, timeout=2
            )
            last = f"{response.status_code} {response.text[:200]}"
            if response.status_code == 200 and len(server.workers()) >= workers:
                return
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise RuntimeError(
        f"{server.name} not ready within {timeout_s} s ({last}):\n"
        f"{server.log_path.read_text()[-4000:]}"
    )


def stop(server: Server, timeout_s: float = 30) -> None:
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    try:
        yield servers
    finally:
        for server in servers:
            stop(server)


# -- /proc ------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.extend(int(p) for p in text.split())
    return sorted(set(found))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # WHY: the command name (field 2) may hold spaces; split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def cpu_ticks(master: int) -> tuple[int, int]:
    """(user, system) clock ticks of the master and its live workers, plus the master's
    cutime/cstime.

    WHY: a worker that exited (max_requests) and was reaped is in the master's cutime/cstime,
    so the totals only ever grow: before/after deltas stay right across worker restarts."""
    fields = _stat_fields(master)
    if fields is None:
        return 0, 0
    # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17 (1-based)
    user, system = int(fields[11]) + int(fields[13]), int(fields[12]) + int(fields[14])
    for pid in children(master):
        worker = _stat_fields(pid)
        if worker is not None:
            user += int(worker[11])
            system += int(worker[12])
    return user, system


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}"


_sink: list[int] = []


def otlp_sink_port() -> int:
    """A local OTLP/HTTP endpoint that accepts and drops every export, started once, in this
    process (whose CPU the bench does not count), so traced workers pay the real export."""
    if not _sink:
        import http.server
        import threading

        class Sink(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        _sink.append(server.server_address[1])
    return _sink[0]
