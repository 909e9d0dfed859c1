"""``/livez`` and ``/readyz`` on the event loop: never behind the API, never hanging."""

from __future__ import annotations

import threading
from typing import Any

from starlette.types import Receive, Scope, Send

from runtime.probes import Drain, ProbeMiddleware
from tests.unit.runtime.asgi import drive


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}


async def _api(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-api", b"1")]})
    await send({"type": "http.response.body", "body": b"api"})


def _middleware(
    checks: dict[str, Any], drain: Drain | None = None, *, check_timeout_s: float = 10.0
) -> ProbeMiddleware:
    # WHY a long timeout by default: a check that answers must never be timed out by a loaded
    # machine's thread hand-off; only the hung-dependency test needs a short one.
    return ProbeMiddleware(
        _api,
        base_path="/api/v1",
        checks=checks,
        check_timeout_s=check_timeout_s,
        drain=drain or Drain(),
    )


def test_liveness_is_answered_without_the_api_or_any_dependency() -> None:
    def never(**_: Any) -> None:
        raise AssertionError("liveness must not check dependencies")

    reply = drive(_middleware({"database": never}), _scope("/api/v1/livez"))
    assert (reply.status, reply.json()) == (200, {"status": "ok"})
    assert "x-api" not in reply.headers


def test_readiness_reports_each_check_and_skips_the_unconfigured() -> None:
    reply = drive(_middleware({"database": lambda: None, "redis": None}), _scope("/api/v1/readyz"))
    assert reply.status == 200
    assert reply.json() == {"status": "ok", "checks": {"database": "ok", "redis": "skipped"}}


def test_a_hung_dependency_makes_readiness_503_within_its_timeout() -> None:
    release, returned = threading.Event(), threading.Event()

    def hung() -> None:
        # WHY 60 s: only a safety valve; the test releases it once both answers are in.
        release.wait(60)
        returned.set()

    middleware = _middleware({"database": hung, "redis": lambda: None}, check_timeout_s=0.3)
    reply = drive(middleware, _scope("/api/v1/readyz"))
    again = drive(middleware, _scope("/api/v1/readyz"))  # the first check is still stuck
    # WHY not the elapsed time: both answers came while the check was still hung, which is
    # what "within its timeout" means, whatever the machine's load.
    hung_throughout = not returned.is_set()
    release.set()
    assert hung_throughout
    assert reply.status == 503 and again.status == 503
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers["retry-after"]
    assert "database" in reply.json()["detail"]


def test_a_failing_check_makes_readiness_503() -> None:
    def down() -> None:
        raise ConnectionError("refused")

    reply = drive(_middleware({"redis": down}), _scope("/api/v1/readyz"))
    assert reply.status == 503 and "redis" in reply.json()["detail"]


def test_while_draining_readiness_is_503_and_every_response_closes_its_connection() -> None:
    drain = Drain()
    drain.begin()
    middleware = _middleware({"database": lambda: None}, drain)
    ready = drive(middleware, _scope("/api/v1/readyz"))
    api = drive(middleware, _scope("/api/v1/projects"))
    live = drive(middleware, _scope("/api/v1/livez"))
    assert ready.status == 503 and ready.headers["connection"] == "close"
    assert (api.status, api.body, api.headers["connection"]) == (200, b"api", "close")
    assert (live.status, live.headers["connection"]) == (200, "close")


def test_other_paths_pass_through_untouched() -> None:
    reply = drive(_middleware({}), _scope("/api/v1/projects"))
    assert (reply.status, reply.body) == (200, b"api")
    assert "connection" not in reply.headers
