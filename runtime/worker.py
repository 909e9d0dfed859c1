"""Gunicorn worker classes for the ASGI app, one per event loop (``EVENT_LOOP``).

``uvicorn_worker.UvicornWorker`` picks uvloop whenever it is installed; these pin the loop.
Both drain on SIGTERM (:class:`DrainingServer`)."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any, ClassVar, Literal

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

from runtime.probes import DRAIN
from runtime.settings import RuntimeSettings


class DrainingServer(Server):
    """uvicorn's server, which on SIGTERM keeps accepting for ``drain_s`` (readiness 503,
    every response ``Connection: close``) before its usual graceful shutdown.

    WHY: a load balancer keeps sending new connections until its next probe sees 503; a
    listener closed at once resets them."""

    def __init__(self, *args: Any, drain_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_s = drain_s
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_s > 0:
            # WHY: the master forwards its SIGTERM; a second one must not cut the drain short
            # (SIGINT and SIGQUIT still stop at once).
            if self._timer is None:
                DRAIN.begin()
                self._timer = threading.Timer(self.drain_s, super().handle_exit, (sig, frame))
                self._timer.daemon = True
                self._timer.start()
            return
        super().handle_exit(sig, frame)


class _DrainingWorker(UvicornWorker):  # type: ignore[misc]
    async def _serve(self) -> None:
        # WHY: UvicornWorker._serve with the draining server in place of uvicorn's.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config, drain_s=RuntimeSettings.load().shutdown_drain_s)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


class AsyncioWorker(_DrainingWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "asyncio", "http": "auto"}


class UvloopWorker(_DrainingWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "uvloop", "http": "auto"}


def worker_class(loop: Literal["asyncio", "uvloop"]) -> str:
    """The Gunicorn ``worker_class`` path for ``loop``."""
    return f"{__name__}.{'AsyncioWorker' if loop == 'asyncio' else 'UvloopWorker'}"
