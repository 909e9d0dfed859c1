"""Gunicorn worker classes for the ASGI app, one per event loop (``EVENT_LOOP``).

``uvicorn_worker.UvicornWorker`` picks uvloop whenever it is installed; these pin the loop."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from uvicorn_worker import UvicornWorker


class AsyncioWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "asyncio", "http": "auto"}


class UvloopWorker(UvicornWorker):  # type: ignore[misc]
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {"loop": "uvloop", "http": "auto"}


def worker_class(loop: Literal["asyncio", "uvloop"]) -> str:
    """The Gunicorn ``worker_class`` path for ``loop``."""
    return f"{__name__}.{'AsyncioWorker' if loop == 'asyncio' else 'UvloopWorker'}"
