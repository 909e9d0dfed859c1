"""Gunicorn for stock Connexion: uvicorn workers, otherwise the reference app's values."""

from __future__ import annotations

import multiprocessing
import os

wsgi_app = "bench.stock.app:create_app()"
worker_class = "uvicorn_worker.UvicornWorker"
bind = [os.environ.get("BIND", "127.0.0.1:8002")]
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
proc_name = "bench-stock-connexion"
