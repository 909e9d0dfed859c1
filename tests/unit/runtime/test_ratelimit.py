from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Receive, Scope, Send

from runtime.errors import PROBLEM_JSON, TYPE_BASE, ValidationProblem
from runtime.ratelimit import (
    MAX_KEY_BODY_BYTES,
    RateLimitMiddleware,
    _content_type,
    _identify,
)
from tests.policies import policies_from_spec
from tests.unit.runtime.asgi import Reply, drive

pytestmark = pytest.mark.usefixtures("mid_window_clock")


@dataclass
class Echo:
    """A tiny app that answers 200 and remembers the bodies it received."""

    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def routed(app: ASGIApp) -> ASGIApp:
    """Stands in for Connexion's routing and security: operation id and subject from headers."""

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        extensions = scope.setdefault("extensions", {})
        extensions["connexion_routing"] = {"operation_id": headers.get("x-test-operation")}
        if "x-test-subject" in headers:
            subject = headers["x-test-subject"]
            extensions["connexion_context"] = {"user": subject, "token_info": {"sub": subject}}
        await app(scope, receive, send)

    return wrapper


def call(
    app: ASGIApp,
    *,
    operation: str = "login",
    ip: str = "10.0.0.1",
    chunks: tuple[bytes, ...] = (b"",),
    headers: Mapping[str, str] | None = None,
) -> Reply:
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": f"/api/v1/{operation}",
        "headers": [
            (b"x-test-operation", operation.encode()),
            *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
        ],
        "client": (ip, 50000),
        "state": {"request_id": "req-1"},
    }

    return drive(app, scope, chunks)


def spec(**operations: Any) -> dict[str, Any]:
    return {
        "paths": {
            f"/{operation_id}": {"post": {"operationId": operation_id, "x-rate-limit": policy}}
            for operation_id, policy in operations.items()
        }
    }


def limited(app: ASGIApp, **operations: Any) -> ASGIApp:
    return routed(
        RateLimitMiddleware(app, policies=policies_from_spec(spec(**operations)), storage_url=None)
    )


def test_the_request_over_the_limit_gets_a_429_problem_with_retry_after() -> None:
    app = limited(Echo(), login={"limit": "2/minute"})
    assert [call(app).status for _ in range(2)] == [200, 200]
    reply = call(app)
    assert reply.status == 429
    assert reply.headers["content-type"] == PROBLEM_JSON
    assert reply.headers["retry-after"] == "45"
    assert reply.headers["ratelimit-policy"] == "2;w=60"
    assert reply.headers["ratelimit"] == "limit=2, remaining=0, reset=45"
    body = reply.json()
    assert (body["status"], body["type"]) == (429, TYPE_BASE + "too-many-requests")
    assert (body["instance"], body["request_id"]) == ("/api/v1/login", "req-1")


def test_each_allowed_response_says_how_much_remains_in_the_window() -> None:
    app = limited(Echo(), login={"limit": "3/minute"})
    first, second = call(app), call(app)
    assert first.headers["ratelimit-policy"] == "3;w=60"
    assert first.headers["ratelimit"] == "limit=3, remaining=2, reset=45"
    assert second.headers["ratelimit"] == "limit=3, remaining=1, reset=45"
    assert "retry-after" not in first.headers


def test_the_tightest_of_several_limits_is_reported() -> None:
    app = limited(Echo(), login={"limit": "5/minute;2/second"})
    reply = call(app)
    assert reply.headers["ratelimit-policy"] == "5;w=60, 2;w=1"
    assert reply.headers["ratelimit"] == "limit=2, remaining=1, reset=1"


def test_two_ip_addresses_are_counted_apart() -> None:
    app = limited(Echo(), login={"limit": "1/minute", "key": "ip"})
    assert call(app, ip="10.0.0.1").status == 200
    assert call(app, ip="10.0.0.1").status == 429
    assert call(app, ip="10.0.0.2").status == 200


def test_operations_are_counted_apart_for_the_same_caller() -> None:
    app = limited(Echo(), login={"limit": "1/minute"}, register={"limit": "1/minute"})
    assert call(app, operation="login").status == 200
    assert call(app, operation="register").status == 200
    assert call(app, operation="login").status == 429


def test_two_emails_are_counted_apart_and_the_app_still_receives_the_whole_body() -> None:
    echo = Echo()
    app = limited(echo, login={"limit": "1/minute", "key": "body:email"})
    alice = (b'{"email": "Alice@Example.com",', b' "password": "x"}')
    assert call(app, chunks=alice).status == 200
    assert echo.bodies == [b"".join(alice)]
    assert call(app, chunks=(b'{"email": " alice@example.COM "}',)).status == 429
    assert call(app, chunks=(b'{"email": "bob@example.com"}',)).status == 200


def test_one_account_named_in_json_or_in_a_form_shares_one_counter() -> None:
    app = limited(Echo(), login={"limit": "2/minute", "key": "body:email,username"})
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert call(app, chunks=(b'{"email": "ada@example.com"}',)).status == 200
    second = call(app, chunks=(b"grant_type=password&username=ADA%40example.com",), headers=form)
    assert second.status == 200
    third = call(app, chunks=(b"username=ada%40example.com&password=x",), headers=form)
    assert third.status == 429
    other = call(app, chunks=(b"username=bob%40example.com",), headers=form, ip="10.0.0.1")
    assert other.status == 200


def test_a_body_without_the_field_is_keyed_by_ip_and_still_delivered() -> None:
    echo = Echo()
    app = limited(echo, login={"limit": "1/minute", "key": "body:email"})
    big = b"x" * (MAX_KEY_BODY_BYTES + 10)
    assert call(app, chunks=(big[:1000], big[1000:])).status == 200
    assert echo.bodies == [big]
    assert call(app, chunks=(b"not json",)).status == 429
    assert call(app, chunks=(b"not json",), ip="10.0.0.9").status == 200


def test_the_caller_key_uses_the_authenticated_subject_and_falls_back_to_the_ip() -> None:
    app = limited(Echo(), me={"limit": "1/minute", "key": "caller"})
    assert call(app, operation="me", headers={"x-test-subject": "u1"}).status == 200
    assert call(app, operation="me", headers={"x-test-subject": "u1"}, ip="10.0.0.2").status == 429
    assert call(app, operation="me", headers={"x-test-subject": "u2"}).status == 200
    assert call(app, operation="me").status == 200
    assert call(app, operation="me").status == 429


def test_an_operation_without_a_policy_passes_untouched() -> None:
    app = limited(Echo(), login={"limit": "1/minute"})
    replies = [call(app, operation="list_projects") for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert "ratelimit" not in replies[0].headers


def test_an_error_raised_downstream_carries_the_ratelimit_headers() -> None:
    async def invalid(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValidationProblem("bad")

    app = limited(invalid, login={"limit": "5/minute"})
    with pytest.raises(ValidationProblem) as raised:
        call(app)
    assert raised.value.headers["ratelimit-policy"] == "5;w=60"


def test_the_document_default_applies_to_every_operation_unless_exempted() -> None:
    document = {
        "x-rate-limit": {"limit": "100/minute"},
        "paths": {
            "/a": {
                "get": {"operationId": "a"},
                "post": {"operationId": "b", "x-rate-limit": False},
            },
            "/c": {"get": {"operationId": "c", "x-rate-limit": {"limit": "1/second"}}},
        },
    }
    policies = policies_from_spec(document)
    assert sorted(policies) == ["a", "c"]
    assert policies["a"][0].header == "100;w=60"
    assert policies["c"][0].header == "1;w=1"


def test_a_policy_may_fail_closed_and_defaults_to_open() -> None:
    policies = policies_from_spec(
        spec(login={"limit": "5/minute", "fail": "closed"}, me={"limit": "5/minute"})
    )
    assert (policies["login"][0].fail_open, policies["me"][0].fail_open) == (False, True)


def test_every_policy_of_a_list_must_allow_the_request() -> None:
    both = [{"limit": "3/minute", "key": "body:email"}, {"limit": "4/minute", "key": "ip"}]
    app = limited(Echo(), login=both)
    replies = [
        call(app, chunks=(f'{{"email": "u{i % 2}@example.com"}}'.encode(),)) for i in range(6)
    ]
    # two accounts alternate: neither reaches 3 tries, but the address reaches 4 at the fifth
    assert [r.status for r in replies] == [200, 200, 200, 200, 429, 429]
    assert replies[0].headers["ratelimit-policy"] == "3;w=60, 4;w=60"
    assert replies[4].headers["retry-after"] == "45"
    assert call(app, ip="10.0.0.2", chunks=(b'{"email": "u9@example.com"}',)).status == 200


def test_only_redis_urls_are_accepted_as_storage() -> None:
    with pytest.raises(ValueError, match="scheme 'memcached' is not supported"):
        RateLimitMiddleware(Echo(), policies={}, storage_url="memcached://localhost")


# Behind Connexion: the operation id and the subject come from its routing and security.

CONNEXION_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "rate limits", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "x-bearerInfoFunc": f"{__name__}.token_info",
            }
        }
    },
    "paths": {
        "/login": {
            "post": {
                "operationId": f"{__name__}.login",
                "x-rate-limit": {"limit": "1/minute", "key": "body:email"},
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["email"],
                                "properties": {"email": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/me": {
            "get": {
                "operationId": f"{__name__}.me",
                "security": [{"bearer": []}],
                "x-rate-limit": {"limit": "1/minute", "key": "caller"},
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


def token_info(token: str) -> dict[str, str]:
    return {"sub": token}


def login(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    return {"received": body}, 200


def me() -> tuple[dict[str, Any], int]:
    return {}, 200


def test_behind_connexion_routing_and_security_the_policy_and_caller_are_found() -> None:
    import connexion
    from connexion.middleware import MiddlewarePosition

    app = connexion.FlaskApp(__name__)
    app.add_middleware(
        RateLimitMiddleware,
        position=MiddlewarePosition.BEFORE_VALIDATION,
        policies=policies_from_spec(CONNEXION_SPEC),
        storage_url=None,
    )
    app.add_api(CONNEXION_SPEC)
    with app.test_client() as client:
        first = client.post("/api/v1/login", json={"email": "Ann@example.com", "password": "p"})
        assert first.status_code == 200
        assert first.json() == {"received": {"email": "Ann@example.com", "password": "p"}}
        assert first.headers["ratelimit-policy"] == "1;w=60"
        assert client.post("/api/v1/login", json={"email": "ann@example.com"}).status_code == 429
        assert client.post("/api/v1/login", json={"email": "bob@example.com"}).status_code == 200
        as_u1 = {"Authorization": "Bearer u1"}
        assert client.get("/api/v1/me", headers=as_u1).status_code == 200
        assert client.get("/api/v1/me", headers=as_u1).status_code == 429
        assert client.get("/api/v1/me", headers={"Authorization": "Bearer u2"}).status_code == 200


def test_every_method_of_a_path_is_read_past_an_exempt_or_unlimited_one() -> None:
    document = {
        "paths": {
            "/a": {
                "get": {"operationId": "exempt", "x-rate-limit": False},
                "put": "not an operation",
                "post": {"operationId": "unlimited"},
                "delete": {"operationId": "limited", "x-rate-limit": {"limit": "1/second"}},
            },
            "/b": "not a path item",
            "/c": {"patch": {"operationId": "also", "x-rate-limit": {"limit": "2/second"}}},
        },
    }
    policies = policies_from_spec(document)
    assert sorted(policies) == ["also", "limited"]
    assert policies["limited"][0].header == "1;w=1"


def test_the_document_default_false_or_absent_limits_nothing() -> None:
    document: dict[str, Any] = {"paths": {"/a": {"get": {"operationId": "a"}}}}
    assert policies_from_spec(document) == {}
    assert policies_from_spec({**document, "x-rate-limit": False}) == {}


def test_a_parsed_policy_has_its_key_field_and_limits() -> None:
    (policy,) = policies_from_spec(spec(login={"limit": "5/minute", "key": "body: email "}))[
        "login"
    ]
    assert (policy.key, policy.body_field, policy.fail_open) == ("body", "email", True)
    (by_ip,) = policies_from_spec(spec(login={"limit": "5/minute"}))["login"]
    assert (by_ip.key, by_ip.body_field) == ("ip", None)
    (by_caller,) = policies_from_spec(spec(login={"limit": "5/minute", "key": "caller"}))["login"]
    assert (by_caller.key, by_caller.body_field) == ("caller", None)


def test_anonymous_callers_are_counted_per_address_not_in_one_bucket() -> None:
    app = limited(Echo(), me={"limit": "1/minute", "key": "caller"})
    assert call(app, operation="me", ip="10.0.0.1").status == 200
    assert call(app, operation="me", ip="10.0.0.2").status == 200
    assert call(app, operation="me", ip="10.0.0.1").status == 429


def test_a_caller_known_only_by_its_token_is_keyed_by_the_subject() -> None:
    async def token_only(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["connexion_context"] = {"token_info": {"sub": "u7"}}
        await inner(scope, receive, send)

    inner = RateLimitMiddleware(
        Echo(),
        policies=policies_from_spec(spec(me={"limit": "1/minute", "key": "caller"})),
        storage_url=None,
    )
    app = routed(token_only)
    assert call(app, operation="me", ip="10.0.0.1").status == 200
    assert call(app, operation="me", ip="10.0.0.2").status == 429


def test_a_request_without_a_peer_address_is_still_counted() -> None:
    app = limited(Echo(), login={"limit": "1/minute"})
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/login",
        "headers": [(b"x-test-operation", b"login")],
        "state": {"request_id": "req-1"},
    }
    assert drive(app, dict(scope)).status == 200
    assert drive(app, dict(scope, headers=list(scope["headers"]))).status == 429


def test_two_policies_of_one_operation_keep_separate_counters() -> None:
    twice = [{"limit": "2/minute", "key": "ip"}, {"limit": "2/minute", "key": "ip"}]
    app = limited(Echo(), login=twice)
    assert [call(app).status for _ in range(3)] == [200, 200, 429]


def test_the_app_s_own_headers_are_kept_and_the_limits_added() -> None:
    async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"location", b"/x"), (b"ratelimit", b"app's own")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    reply = call(limited(with_headers, login={"limit": "5/minute"}))
    assert reply.status == 201
    assert reply.headers["location"] == "/x"
    assert reply.headers["ratelimit"] == "app's own"
    assert reply.headers["ratelimit-policy"] == "5;w=60"


def test_a_429_says_retry_after_the_window_resets() -> None:
    app = limited(Echo(), login={"limit": "1/second"})
    call(app)
    reply = call(app)
    assert reply.status == 429
    assert reply.headers["retry-after"] == "1"
    assert reply.json()["detail"] == "Too many requests; retry in 1 s."
    assert reply.json()["title"] == "Too Many Requests"


def test_an_error_downstream_keeps_its_own_headers_beside_the_limits() -> None:
    async def invalid(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValidationProblem("bad", errors=[]) from None

    async def with_own(scope: Scope, receive: Receive, send: Send) -> None:
        problem = ValidationProblem("bad")
        problem.headers = {"X-Own": "1"}
        raise problem

    app = limited(with_own, login={"limit": "5/minute"})
    with pytest.raises(ValidationProblem) as raised:
        call(app)
    assert raised.value.headers["X-Own"] == "1"
    assert raised.value.headers["ratelimit"] == "limit=5, remaining=4, reset=45"
    app = limited(invalid, login={"limit": "5/minute"})
    with pytest.raises(ValidationProblem) as bare:
        call(app)
    assert bare.value.headers["ratelimit-policy"] == "5;w=60"


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h:6380/0", "unix:///tmp/r.sock"])
def test_redis_urls_of_every_scheme_are_accepted(url: str) -> None:
    assert RateLimitMiddleware(Echo(), policies={}, storage_url=url).namespace == "rl"


def test_an_unsupported_storage_url_is_refused_saying_what_to_give() -> None:
    with pytest.raises(ValueError) as raised:
        RateLimitMiddleware(Echo(), policies={}, storage_url="memcached://h:1:2")
    assert str(raised.value) == (
        "Rate limit storage URL scheme 'memcached' is not supported; give a redis://, "
        "rediss:// or unix:// URL, or None to count in memory."
    )


def test_a_subject_from_the_security_context_alone_keys_the_caller() -> None:
    async def user_only(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"]["connexion_context"] = {"user": "u8"}
        await inner(scope, receive, send)

    policies = policies_from_spec(spec(me={"limit": "1/minute", "key": "caller"}))
    inner = RateLimitMiddleware(Echo(), policies=policies, storage_url=None)
    app = routed(user_only)
    assert call(app, operation="me", ip="10.0.0.1").status == 200
    assert call(app, operation="me", ip="10.0.0.2").status == 429


def by_email(app: ASGIApp, messages: list[dict[str, Any]], ip: str) -> int:
    """The status for a request whose body arrives as exactly these ASGI messages."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/login",
        "headers": [(b"x-test-operation", b"login")],
        "client": (ip, 1),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    status: int = sent[0]["status"]
    return status


@pytest.mark.parametrize(
    "messages",
    [
        # A message may leave out "body" and "more_body" (the ASGI defaults: b"", False).
        [{"type": "http.request", "more_body": True}, {"type": "http.request", "body": b"{"}],
        [{"type": "http.request", "body": b"{"}],
    ],
    ids=["no-body-key", "no-more-body-key"],
)
def test_the_key_field_is_found_whatever_asgi_defaults_a_message_uses(
    messages: list[dict[str, Any]],
) -> None:
    app = limited(Echo(), login={"limit": "1/minute", "key": "body:email"})
    *first, last = [dict(m) for m in messages]
    last["body"] = last["body"] + b'"email": "a@example.com"}'
    assert by_email(app, [*first, last], "10.0.0.1") == 200
    assert by_email(app, [*first, dict(last)], "10.0.0.2") == 429


def test_a_body_of_exactly_the_buffer_limit_is_still_read_for_the_key() -> None:
    app = limited(Echo(), login={"limit": "1/minute", "key": "body:email"})
    head = b'{"email": "a@example.com", "pad": "'
    body = head + b"x" * (MAX_KEY_BODY_BYTES - len(head) - 2) + b'"}'
    assert len(body) == MAX_KEY_BODY_BYTES
    assert call(app, chunks=(body,), ip="10.0.0.1").status == 200
    assert call(app, chunks=(body,), ip="10.0.0.2").status == 429


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"email": 5}', b'{"email": "  "}', b"null"])
def test_a_body_whose_key_field_is_unusable_is_keyed_by_address(body: bytes) -> None:
    app = limited(Echo(), login={"limit": "1/minute", "key": "body:email"})
    assert call(app, chunks=(body,), ip="10.0.0.1").status == 200
    assert call(app, chunks=(body,), ip="10.0.0.2").status == 200
    assert call(app, chunks=(body,), ip="10.0.0.1").status == 429


def test_of_limits_with_equal_room_the_one_resetting_last_is_reported() -> None:
    app = limited(Echo(), login={"limit": "5/second;5/minute"})
    header = call(app).headers["ratelimit"]
    assert header == "limit=5, remaining=4, reset=45"


def test_a_form_is_recognised_whatever_the_case_and_parameters_of_its_content_type() -> None:
    app = limited(Echo(), login={"limit": "1/minute", "key": "body:email,username"})
    assert call(app, chunks=(b'{"email": "ada@example.com"}',)).status == 200
    form = {"content-type": "Application/X-WWW-Form-Urlencoded;Charset=UTF-8"}
    again = call(app, chunks=(b"username=ada%40example.com",), headers=form, ip="10.0.0.2")
    assert again.status == 429


def test_a_scope_without_headers_has_no_content_type() -> None:
    assert _content_type({}) == ""
    assert _content_type({"headers": [(b"Content-Type", b"text/plain; q=1")]}) == "text/plain"


def test_a_body_key_is_the_digest_of_the_normalised_value() -> None:
    """Keys must not change between releases: during a rolling deploy, old and new workers
    count one account in the same Redis key."""
    (policy,) = policies_from_spec(spec(login={"limit": "1/minute", "key": "body:email"}))["login"]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b'{"email": " Ada@Example.COM "}'}

    key, _ = asyncio.run(_identify(policy, {"type": "http", "headers": []}, receive))
    assert key == "email:" + hashlib.sha256(b"ada@example.com").hexdigest()[:32]


def test_the_outage_warning_cuts_a_long_detail_at_200_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime.logging import configure_logging

    configure_logging(level="INFO", json=True)
    app = RateLimitMiddleware(Echo(), policies={}, storage_url=None)
    app._mark_down(OSError("x" * 300))
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert line["event"] == "rate_limit_storage_unavailable"
    assert line["detail"] == "x" * 200


def test_what_the_limiter_does_not_limit_reaches_the_app_as_it_came() -> None:
    seen: list[tuple[object, object, object]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: object) -> None:
        pass

    middleware = RateLimitMiddleware(
        app, policies=policies_from_spec(spec(login={"limit": "1/minute"})), storage_url=None
    )
    scopes: list[dict[str, Any]] = [
        {"type": "websocket", "path": "/ws"},
        {"type": "http", "path": "/unrouted"},
        {"type": "http", "path": "/x", "extensions": {}},
        {"type": "http", "extensions": {"connexion_routing": {"operation_id": "other"}}},
    ]
    for scope in scopes:
        asyncio.run(middleware(scope, receive, send))
    assert seen == [(scope, receive, send) for scope in scopes]


def test_a_single_policy_may_be_given_without_a_tuple() -> None:
    (policy,) = policies_from_spec(spec(login={"limit": "1/minute"}))["login"]
    app = routed(RateLimitMiddleware(Echo(), policies={"login": policy}, storage_url=None))
    assert [call(app).status for _ in range(2)] == [200, 429]


def test_a_one_letter_body_field_is_a_field() -> None:
    (policy,) = policies_from_spec(spec(login={"limit": "1/minute", "key": "body:x"}))["login"]
    assert (policy.key, policy.body_field) == ("body", "x")


def test_while_the_store_is_skipped_a_fail_open_request_reaches_the_app_as_it_came() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await Echo()(scope, receive, send)

    middleware = RateLimitMiddleware(
        app, policies=policies_from_spec(spec(login={"limit": "1/minute"})), storage_url=None
    )
    middleware._down_until = time.monotonic() + 60
    replies = [call(routed(middleware)) for _ in range(2)]
    assert [r.status for r in replies] == [200, 200]
    assert "ratelimit" not in replies[0].headers
    assert [s["path"] for s in seen] == ["/api/v1/login"] * 2


def test_each_429_is_counted_under_its_operation() -> None:
    def refused() -> float:
        labels = {"policy": "login"}
        return REGISTRY.get_sample_value("rate_limit_rejections_total", labels) or 0.0

    app = limited(Echo(), login={"limit": "1/minute"})
    before = refused()
    assert [call(app).status for _ in range(3)] == [200, 429, 429]
    assert refused() == before + 2


def test_a_response_start_without_headers_still_gets_the_limits() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    reply = call(limited(bare, login={"limit": "2/minute"}))
    assert reply.status == 204
    assert reply.headers["ratelimit"] == "limit=2, remaining=1, reset=45"


def test_a_body_past_the_buffer_reaches_the_app_whole_and_is_keyed_by_address() -> None:
    echo = Echo()
    app = limited(echo, login={"limit": "1/minute", "key": "body:email"})
    chunks = (b"x" * (MAX_KEY_BODY_BYTES + 1), b"y", b"z")
    assert call(app, chunks=chunks).status == 200
    assert echo.bodies == [b"".join(chunks)]
    assert call(app, chunks=chunks, ip="10.0.0.2").status == 200
    assert call(app, chunks=chunks).status == 429
