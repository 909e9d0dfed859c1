"""``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header) for ``x-idempotent`` operations.

The first answer to a key is stored in the request's own transaction, beside the write it
acknowledges, and replayed byte for byte to every retry with ``Idempotent-Replayed: true``.
Where the draft is silent, Stripe's semantics apply:

- the key is scoped to the caller (the token's subject; without a token, the client address)
  and to the operation; a fingerprint of the request (method, path, query, canonical body) is
  stored with it: the same key with another request is a 422;
- a retry while the first request still runs is a 409 with ``Retry-After``;
- only an answer that commits (status < 400) is stored: after an error nothing was written, so
  the key is free and the client may retry, or fix its request and send it again;
- records expire after ``ttl_s`` (``expires_at``); an expired key starts afresh.

On PostgreSQL a transaction-scoped advisory lock on the key serialises concurrent requests.
Elsewhere (SQLite, development) there is no lock: the table's primary key still lets only one
of two racing requests commit, and the other fails with an integrity error (a 409)."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import flask
import orjson
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from runtime.auth.security import current_principal
from runtime.errors import Conflict, FieldError, Problem, ValidationProblem

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "Decision",
    "Idempotency",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyReused",
    "current_operation_id",
    "decide",
    "fingerprint",
    "idempotency_table",
    "parse_key",
]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETRY_AFTER_S = 1
# WHY: recomputed or per-response; a replay that repeated them would be wrong, not the same.
_UNSTORED_HEADERS = frozenset({"content-length", "set-cookie", "date"})
_POINTER = "#/header/Idempotency-Key"


class IdempotencyKeyInFlight(Conflict):
    kind = "idempotency-key-in-flight"
    title = "Idempotency Key In Flight"


class IdempotencyKeyReused(Problem):
    status = 422
    kind = "idempotency-key-reused"
    title = "Idempotency Key Reused"


def idempotency_table(metadata: MetaData, name: str = "idempotency_keys") -> Table:
    """The table of stored answers, on the application's metadata (its migrations create it)."""
    return Table(
        name,
        metadata,
        Column("scope", String(255), primary_key=True),
        Column("operation_id", String(128), primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Index(f"ix_{name}_expires_at", "expires_at"),
    )


def parse_key(raw: str | None, *, required: bool) -> str | None:
    """The key of a request, None when absent and optional; a 400 when it is unusable.

    The draft's Structured Field form (``"abc"``) and the bare form (``abc``) are one key."""
    if raw is None:
        if required:
            raise ValidationProblem(errors=[FieldError(_POINTER, "this operation needs a key")])
        return None
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not key:
        raise ValidationProblem(errors=[FieldError(_POINTER, "the key is empty")])
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationProblem(
            errors=[FieldError(_POINTER, f"the key is longer than {MAX_KEY_LENGTH} characters")]
        )
    if any(not "\x21" <= char <= "\x7e" for char in key):
        raise ValidationProblem(
            errors=[FieldError(_POINTER, "the key may hold printable ASCII characters only")]
        )
    return key


def _canonical_body(body: bytes, content_type: str | None) -> bytes:
    # WHY: a client that re-serialises its retry (another key order, other whitespace) sends
    # the same request; JSON is compared as data, anything else as bytes.
    if content_type and "json" in content_type.split(";")[0]:
        try:
            return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
        except orjson.JSONDecodeError:
            pass
    return body


def fingerprint(
    *,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    body: bytes,
    content_type: str | None,
    secret: bytes = b"",
) -> str:
    """What makes two requests "the same": method, path, sorted query and canonical body.

    HMAC-SHA-256 with ``secret``: the body may hold a password, which a bare hash would let
    anyone reading the table test guesses against."""
    parts = [
        method.upper().encode(),
        path.encode(),
        urlencode(sorted(query)).encode(),
        _canonical_body(body, content_type),
    ]
    message = b"".join(len(part).to_bytes(8, "big") + part for part in parts)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str
    status_code: int
    headers: Mapping[str, str]
    body: bytes
    expires_at: datetime


class Decision(enum.Enum):
    PROCEED = "proceed"  # run the handler and store its answer
    REPLAY = "replay"  # answer with the stored response
    REUSED = "reused"  # 422: the key belongs to another request
    IN_FLIGHT = "in-flight"  # 409: the first request still runs


def decide(
    *, locked: bool, stored: StoredAnswer | None, request_fingerprint: str, now: datetime
) -> Decision:
    """The state machine of a key, given the lock, the stored answer and the request."""
    if not locked:
        return Decision.IN_FLIGHT
    if stored is None or stored.expires_at <= now:
        return Decision.PROCEED
    if not hmac.compare_digest(stored.fingerprint, request_fingerprint):
        return Decision.REUSED
    return Decision.REPLAY


def current_operation_id() -> str | None:
    """The operationId Connexion routed the current request to, if any."""
    import connexion.context

    try:
        operation_id = connexion.context.operation.operation_id
    except (RuntimeError, LookupError, AttributeError):
        return None
    return operation_id if isinstance(operation_id, str) else None


def lock_id(scope: str, operation_id: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for one key of one caller and operation."""
    digest = hashlib.sha256(f"{scope}\0{operation_id}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class _Pending:
    scope: str
    operation_id: str
    key: str
    fingerprint: str


_PENDING = "_runtime_idempotency_pending"


class Idempotency:
    """Enforces ``Idempotency-Key`` from the generated ``POLICIES`` table; no domain knowledge.

    Call :meth:`init_app` after ``Database.init_app``: Flask runs ``after_request`` hooks in
    reverse order, and the answer must be stored before the request's one commit."""

    def __init__(self) -> None:
        self._session: Callable[[], Session] | None = None
        self.policies: Mapping[str, Mapping[str, Any]] = {}
        self.ttl_s = 24 * 3600
        self._secret = b""
        self._table: Table | None = None

    def init_app(
        self,
        app: flask.Flask,
        *,
        session: Callable[[], Session],
        table: Table,
        policies: Mapping[str, Mapping[str, Any]],
        ttl_s: int,
        secret: bytes = b"",
    ) -> None:
        self._session = session
        self._table = table
        self.policies = policies
        self.ttl_s = ttl_s
        self._secret = secret
        app.before_request(self._before)
        app.after_request(self._after)

    @property
    def table(self) -> Table:
        if self._table is None:
            raise RuntimeError("Idempotency is not configured; call init_app(app, ...).")
        return self._table

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("Idempotency is not configured; call init_app(app, ...).")
        return self._session()

    def _before(self) -> flask.Response | None:
        operation_id = current_operation_id()
        policy = self.policies.get(operation_id or "")
        mode = policy.get("idempotency_key", "none") if policy else "none"
        if operation_id is None or mode == "none":
            return None
        request = flask.request
        key = parse_key(request.headers.get(HEADER), required=mode == "required")
        if key is None:
            return None
        principal = current_principal()
        scope = (
            f"sub:{principal.subject}"
            if principal is not None
            else f"addr:{request.remote_addr or 'unknown'}"
        )
        pending = _Pending(
            scope=scope,
            operation_id=operation_id,
            key=key,
            fingerprint=fingerprint(
                method=request.method,
                path=request.path,
                query=request.args.items(multi=True),
                body=request.get_data(cache=True),
                content_type=request.content_type,
                secret=self._secret,
            ),
        )
        session = self.session
        now = datetime.now(UTC)
        locked = self._lock(session, lock_id(scope, operation_id, key))
        stored = self._load(session, pending) if locked else None
        decision = decide(
            locked=locked, stored=stored, request_fingerprint=pending.fingerprint, now=now
        )
        if decision is Decision.IN_FLIGHT:
            raise IdempotencyKeyInFlight(
                "A request with this Idempotency-Key is still running; retry later.",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        if decision is Decision.REUSED:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request; use a new key."
            )
        if decision is Decision.REPLAY and stored is not None:
            return _replay(stored)
        if stored is not None:
            session.execute(delete(self.table).where(*self._identity(pending)))
        setattr(flask.g, _PENDING, pending)
        return None

    def _after(self, response: flask.Response) -> flask.Response:
        pending: _Pending | None = flask.g.pop(_PENDING, None)
        if pending is None or response.status_code >= 400:
            return response
        now = datetime.now(UTC)
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in _UNSTORED_HEADERS
        }
        self.session.execute(
            insert(self.table).values(
                scope=pending.scope,
                operation_id=pending.operation_id,
                key=pending.key,
                fingerprint=pending.fingerprint,
                status_code=response.status_code,
                headers=headers,
                body=response.get_data(),
                created_at=now,
                expires_at=now + timedelta(seconds=self.ttl_s),
            )
        )
        return response

    @staticmethod
    def _lock(session: Session, key_lock: int) -> bool:
        if session.get_bind().dialect.name != "postgresql":
            return True
        # WHY: transaction-scoped, so the lock is released by the request's one commit or its
        # rollback: a crashed worker never leaves a key locked.
        locked = session.execute(
            text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": key_lock}
        ).scalar_one()
        return bool(locked)

    def _identity(self, pending: _Pending) -> tuple[Any, ...]:
        columns = self.table.c
        return (
            columns.scope == pending.scope,
            columns.operation_id == pending.operation_id,
            columns.key == pending.key,
        )

    def _load(self, session: Session, pending: _Pending) -> StoredAnswer | None:
        row = session.execute(select(self.table).where(*self._identity(pending))).first()
        if row is None:
            return None
        expires_at = row.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return StoredAnswer(
            fingerprint=row.fingerprint,
            status_code=row.status_code,
            headers=dict(row.headers),
            body=bytes(row.body),
            expires_at=expires_at,
        )


def _replay(stored: StoredAnswer) -> flask.Response:
    response = flask.Response(stored.body, status=stored.status_code)
    response.headers.clear()
    for name, value in stored.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response
