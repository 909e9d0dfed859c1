"""Gunicorn settings for the API: the README, the Dockerfile and CI all serve through this file.

Every value can be overridden from the environment (``BIND``, ``WEB_CONCURRENCY``, ...)."""

from __future__ import annotations

import glob
import multiprocessing
import os
import re
import shutil
import tempfile
from typing import Any

# WHY before importing the app: prometheus-client decides at import time whether it runs in
# multiprocess mode. A configured directory (a tmpfs, for a read-only root) is emptied of the
# last boot's samples, only *.db files, as it may hold others; otherwise each boot gets its own.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    for _stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.unlink(_stale)
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    _created_metrics_dir = None
else:
    _created_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="prometheus-"
    )

from app.config import load_settings
from runtime.logging import configure_logging, logging_config
from runtime.worker import worker_class as worker_class_for

_settings = load_settings()

wsgi_app = "app:create_app()"
# WHY: Connexion 3 is ASGI; `uvicorn.workers` is deprecated in favour of the uvicorn-worker package.
worker_class = worker_class_for(_settings.resolved_event_loop)
bind = [_settings.bind]
# WHY: one process per core; each runs Flask handlers on FLASK_THREADS (4) threads (wsgi.py),
# and the database pool (DB_POOL_SIZE + DB_MAX_OVERFLOW) must cover them, or requests queue for
# connections. With FLASK_DISPATCH=inline a worker serves one request at a time: add workers.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# WHY: the workers bind their own SO_REUSEPORT sockets beside the master's (runtime/worker.py).
reuse_port = _settings.reuse_port
# WHY: off by default. A recycled uvicorn worker closes its idle keep-alive connections, and a
# client whose next request is already on the wire sees a reset (a POST is not retried); the
# workers' memory is flat under load (docs/PERFORMANCE.md). Set it to contain a leak.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# WHY: the runtime's middleware writes one JSON access line per request with the request id;
# Gunicorn's and uvicorn's own access logs would duplicate it without the id.
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
logconfig_dict = logging_config(level=_settings.log_level, json=_settings.log_json)
proc_name = _settings.service_name
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# WHY: Gunicorn 24+ binds a control socket at ~/.gunicorn/gunicorn.ctl by default: every
# instance run by one user would fight over it, and the image's home is read-only. One path
# per bind address (or GUNICORN_CONTROL_SOCKET; "off" disables it).
_control = os.environ.get("GUNICORN_CONTROL_SOCKET") or os.path.join(
    tempfile.gettempdir(), "gunicorn-" + re.sub(r"[^A-Za-z0-9]+", "-", _settings.bind) + ".ctl"
)
control_socket_disable = _control == "off"
control_socket = _control


def on_starting(server: Any) -> None:
    """Once, in the master, before any worker serves: the development key ring, and the
    migrations (in development and when AUTO_MIGRATE asks)."""
    configure_logging(level=_settings.log_level, json=_settings.log_json)
    from app import verify_registry
    from runtime import RegistryError

    try:
        verify_registry(_settings)
    except RegistryError as exc:
        # WHY: one line and a non-zero exit of the master, before any worker says it is ready.
        server.log.error("start-up refused: %s", exc)
        raise SystemExit(1) from None
    if _settings.jwt_keys_file is None:
        from app.common.auth import ensure_key_ring
        from app.config import DEFAULT_KEY_RING_PATH

        ensure_key_ring(DEFAULT_KEY_RING_PATH)
    if _settings.auto_migrate_enabled:
        from app.migrate import upgrade

        upgrade(_settings.sqlalchemy_url)
        server.log.info("database migrated")


def when_ready(server: Any) -> None:
    """Say where the API and its documentation are: the sockets bound, or ``BIND``.

    WHY: with REUSE_PORT the master binds nothing; each worker opens its own socket on BIND."""
    addresses = [str(listener) for listener in server.LISTENERS]
    if not any(address.startswith("http") for address in addresses):
        addresses = [f"http://{address}" for address in bind if not address.startswith("unix:")]
    for address in addresses:
        if not address.startswith("http"):
            continue
        api = f"{address.replace('0.0.0.0', '127.0.0.1')}/api/v1"  # noqa: S104
        server.log.info("API at %s/ (OpenAPI document: %s/openapi.json)", api, api)
        if _settings.swagger_ui_enabled:
            server.log.info("Swagger UI at %s/ui/", api)


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges (in flight, pool) must leave the sum."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _created_metrics_dir:
        shutil.rmtree(_created_metrics_dir, ignore_errors=True)
