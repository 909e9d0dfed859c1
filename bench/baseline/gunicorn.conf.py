"""Gunicorn for the hand-written baseline: sync workers, otherwise the reference app's values.

Run: gunicorn -c bench/baseline/gunicorn.conf.py (BIND, WEB_CONCURRENCY... from the environment)."""

from __future__ import annotations

import multiprocessing
import os

wsgi_app = "bench.baseline.app:create_app()"
worker_class = "sync"
bind = [os.environ.get("BIND", "127.0.0.1:8001")]
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5  # WHY: ignored by sync workers (they close every connection); kept for parity.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
proc_name = "bench-baseline"
