"""Where an app keeps its services: on the Flask app, never in module globals.

The composition root installs one factory per service class; a generated adapter's
``get_service()`` asks the current app for its service, so two apps in one process share
nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import flask

_KEY = "runtime.services"
T = TypeVar("T")


def install_services(app: flask.Flask, factories: Mapping[type[Any], Callable[[], object]]) -> None:
    """Make each service class buildable, per request, from ``app``."""
    app.extensions[_KEY] = dict(factories)


def service(kind: type[T]) -> T:
    """A ``kind`` built by the current app's factory."""
    factories: Mapping[type[Any], Callable[[], object]] = flask.current_app.extensions.get(_KEY, {})
    factory = factories.get(kind)
    if factory is None:
        raise LookupError(
            f"This app has no factory for {kind.__name__}; install it with "
            "runtime.install_services in the app factory."
        )
    made = factory()
    if not isinstance(made, kind):
        raise TypeError(f"The factory of {kind.__name__} built a {type(made).__name__}.")
    return made


_CLOSERS = "runtime.closers"


def on_close(app: flask.Flask, close: Callable[[], None]) -> None:
    """Have :func:`close_app` call ``close`` (dispose a pool, close a client)."""
    app.extensions.setdefault(_CLOSERS, []).append(close)


def close_app(app: flask.Flask) -> None:
    """Release what the app holds, most recent first; for tests and scripts, not workers."""
    for close in reversed(app.extensions.pop(_CLOSERS, [])):
        close()
