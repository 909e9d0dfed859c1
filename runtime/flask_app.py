"""Connexion's ``FlaskApp`` with its per-request Flask-side work done once per operation.

Connexion 3.3 rebuilds each operation's decorator chain on every request: ``FlaskOperation.fn``
is a property that makes a new ``FlaskDecorator``, whose wrapper calls ``decorate()`` again, which
inspects the handler's signature and builds a URI parser for the operation. None of that depends
on the request. Here the chain is built once per operation and the URI parser once, on first
use; what depends on the request (reading the body, coercing parameters) still runs per request,
through Connexion's own code. Three smaller savings: a JSON body the runtime's validator already
turned into the adapter's model is handed over as that model, any other UTF-8 JSON body is decoded
by orjson, and only a multipart body is parsed for files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import connexion
import connexion.context
import flask
import orjson
import werkzeug.exceptions
from connexion.apps.abstract import AbstractApp
from connexion.apps.flask import FlaskApi, FlaskASGIApp, FlaskOperation
from connexion.decorators import FlaskDecorator
from connexion.frameworks.flask import FlaskJSONProvider
from connexion.lifecycle import WSGIRequest
from connexion.uri_parsing import AbstractURIParser

from runtime.validation import validated_body
from runtime.wsgi import BufferedWSGI, Dispatch


class _Request(WSGIRequest):  # type: ignore[misc]
    def get_body(self) -> Any:
        # WHY: the body validator decoded the body and built the adapter's model from it
        # (runtime.validation); Connexion would decode the same bytes again for ``body``.
        try:
            validated = validated_body(connexion.context.scope)
        except RuntimeError:  # WHY: a request outside Connexion's operation context
            validated = None
        return validated if validated is not None else super().get_body()

    def files(self) -> dict[str, Any]:
        # WHY: Connexion asks every request for its files; only a multipart body has any, and
        # parsing the form of a JSON body is a measurable share of the argument handling.
        if self.mimetype != "multipart/form-data":
            return {}
        files: dict[str, Any] = super().files()
        return files


class _JSONProvider(FlaskJSONProvider):  # type: ignore[misc]
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # WHY: orjson costs a third of json for the UTF-8 bodies the validator decoded the
        # same way; a body in another declared charset (UTF-16, which the validator transcodes
        # first) falls back to json, which detects it, so the handler never gets a silent {}.
        if not kwargs:
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                pass
        return super().loads(s, **kwargs)


class _OnceDecorator(FlaskDecorator):  # type: ignore[misc]
    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)
        parser: list[AbstractURIParser] = []

        @functools.wraps(function)
        def wrapper(*_args: Any, **_kwargs: Any) -> Any:
            # WHY: a Flask view belongs to exactly one spec operation, so its parser is too.
            if not parser:
                parser.append(self.uri_parser)
            request = flask.request
            return decorated(_Request(request, uri_parser=parser[0], view_args=request.view_args))

        return wrapper


class _Operation(FlaskOperation):  # type: ignore[misc]
    @functools.cached_property
    def fn(self) -> Callable[..., Any]:
        return _OnceDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(
            self._fn
        )


class _Api(FlaskApi):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> _Operation:
        return _Operation(
            fn=operation.function,
            jsonifier=self.jsonifier,
            operation_id=operation.operation_id,
            pythonic_params=self.pythonic_params,
        )


class _ASGIApp(FlaskASGIApp):  # type: ignore[misc]
    def __init__(
        self,
        import_name: str,
        server_args: dict[str, Any],
        dispatch: Dispatch | None,
        threads: int,
        queue: int | None = None,
    ) -> None:
        super().__init__(import_name, server_args)
        self.app.json = _JSONProvider(self.app)
        # WHY: werkzeug answers ``//projects`` with a 308 to the merged path, built from the
        # Host header; the API documents no such path, so it is a 404 like any other.
        self.app.url_map.merge_slashes = False
        if dispatch is not None:
            self.asgi_app = BufferedWSGI(
                self.app.wsgi_app, dispatch=dispatch, threads=threads, queue=queue
            )

    def add_api(self, specification: Any, *, name: str | None = None, **kwargs: Any) -> _Api:
        api = _Api(specification, **kwargs)
        self.app.register_blueprint(api.blueprint, **({"name": name} if name else {}))
        return api


class RuntimeFlaskApp(connexion.FlaskApp):  # type: ignore[misc]
    """``connexion.FlaskApp`` whose operations decorate their handlers once, and whose Flask
    app runs behind :class:`~runtime.wsgi.BufferedWSGI` (``dispatch``), or behind Connexion's
    a2wsgi bridge when ``dispatch`` is None."""

    def __init__(
        self,
        import_name: str,
        *,
        dispatch: Dispatch | None = "thread",
        threads: int = 4,
        queue: int | None = None,
        **kwargs: Any,
    ) -> None:
        # WHY: FlaskApp.__init__ hard-codes its FlaskASGIApp; this is its body with ours.
        server_args = kwargs.pop("server_args", None) or {}
        self._middleware_app = _ASGIApp(import_name, server_args, dispatch, threads, queue)
        AbstractApp.__init__(self, import_name, **kwargs)
        self.app = self._middleware_app.app
        self.app.register_error_handler(werkzeug.exceptions.HTTPException, self._http_exception)
