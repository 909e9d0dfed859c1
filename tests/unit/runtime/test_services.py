from __future__ import annotations

import flask
import pytest

from runtime.services import close_app, install_services, on_close, service


class Greeter:
    def __init__(self, name: str) -> None:
        self.name = name


def test_each_app_builds_its_own_service_and_closes_only_its_own() -> None:
    first, second, closed = flask.Flask("first"), flask.Flask("second"), []
    install_services(first, {Greeter: lambda: Greeter("first")})
    install_services(second, {Greeter: lambda: Greeter("second")})
    on_close(first, lambda: closed.append("first"))
    on_close(second, lambda: closed.append("second"))
    with first.app_context():
        assert service(Greeter).name == "first"
    with second.app_context():
        assert service(Greeter).name == "second"
    close_app(first)
    close_app(first)
    assert closed == ["first"]


def test_a_missing_or_wrong_factory_is_refused_by_name() -> None:
    app = flask.Flask("wrong")
    with app.app_context(), pytest.raises(LookupError, match="no factory for Greeter"):
        service(Greeter)
    install_services(app, {Greeter: lambda: "not a greeter"})
    with app.app_context(), pytest.raises(TypeError, match="factory of Greeter built a str"):
        service(Greeter)
