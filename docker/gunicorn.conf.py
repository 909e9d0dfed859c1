"""Gunicorn settings for the API: the README, the Dockerfile and CI all serve through this file.

Every value can be overridden from the environment (``BIND``, ``WEB_CONCURRENCY``, ...)."""

from __future__ import annotations

import multiprocessing
import os
import re
import tempfile
from typing import Any

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
    if _settings.jwt_keys_file is None:
        from app.common.auth import ensure_key_ring
        from app.config import DEFAULT_KEY_RING_PATH

        ensure_key_ring(DEFAULT_KEY_RING_PATH)
    if _settings.auto_migrate_enabled:
        from app.migrate import upgrade

        upgrade(_settings.sqlalchemy_url)
        server.log.info("database migrated")
