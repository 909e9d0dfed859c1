"""SQLAlchemy engine and a session per request, committed in exactly one place."""

from __future__ import annotations

import select
import threading
import time
from typing import Any

import flask
import sqlalchemy.exc
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from runtime import deadline as deadlines
from runtime.metrics import WaitTimingQueuePool, instrument_engine

_SESSION_KEY = "_runtime_db_session"


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 5,
    pool_timeout_s: float = 5.0,
    statement_timeout_ms: int = 5000,
    connect_timeout_s: int = 5,
    pre_ping: bool = False,
) -> Engine:
    """An engine whose every wait is bounded: connect, pool checkout and each statement.

    A pooled PostgreSQL connection the server has closed is replaced at checkout, found by a
    look at its socket rather than by SQLAlchemy's pre-ping ``SELECT 1`` round trip;
    ``pre_ping=True`` asks for the round trip instead."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": pool_timeout_s},
            pool_pre_ping=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        instrument_engine(engine)
        return engine
    connect_args: dict[str, Any] = {}
    postgres = url.startswith("postgresql")
    if postgres:
        install_bounded_waits()
        connect_args = {
            "connect_timeout": connect_timeout_s,
            # WHY: a backend waiting on a lock notices an abandoned client (PostgreSQL 14+).
            "options": f"-c statement_timeout={statement_timeout_ms} "
            "-c client_connection_check_interval=1000",
            "application_name": "api",
            # WHY: a peer that vanished (host down, partition) is detected by the client's
            # kernel in ~10 s instead of the system default of two hours.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,
        }
    engine = create_engine(
        url,
        poolclass=WaitTimingQueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=pre_ping or not postgres,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if postgres:
        event.listen(
            engine,
            "begin",
            lambda connection: _bound_transaction(connection, statement_timeout_ms),
        )
        if not pre_ping:
            event.listen(engine, "checkout", _reject_closed_connection)
    instrument_engine(engine)
    return engine


_installed = threading.Lock()
_INSTALLED: list[bool] = []


def install_bounded_waits() -> None:
    """Route every libpq wait of the process through :func:`_wait_within_deadline`."""
    import psycopg2.extensions  # type: ignore[import-untyped]

    with _installed:
        if not _INSTALLED:
            psycopg2.extensions.set_wait_callback(_wait_within_deadline)
            _INSTALLED.append(True)


def _wait_within_deadline(connection: Any) -> None:
    """psycopg2's wait callback: waits on the socket at most the request's time left.

    WHY: ``statement_timeout`` is enforced by the server, so a frozen server (SIGSTOP, a stuck
    disk) never applies it, and TCP keepalives do not fire while its kernel still ACKs. This is
    the only client-side bound on a libpq read. On expiry psycopg2 closes the connection, so
    the transaction can no longer commit; a live server stops the statement by itself
    (``SET LOCAL`` timeouts, ``client_connection_check_interval``).

    WHY not ``connection.cancel()``: libpq's PQcancel runs with the GIL held and waits for the
    server's answer, so against a frozen server it stopped every thread of the worker, the
    event loop included, until the server came back (measured: the whole freeze)."""
    import psycopg2
    import psycopg2.extensions as ext

    deadline = deadlines.current()
    poller = select.poll()
    registered = 0
    while True:
        state = connection.poll()
        if state == ext.POLL_OK:
            return
        events = select.POLLIN if state == ext.POLL_READ else select.POLLOUT
        if state not in (ext.POLL_READ, ext.POLL_WRITE):
            raise psycopg2.OperationalError(f"Unexpected libpq poll state {state}.")
        if events != registered:
            poller.register(connection.fileno(), events)
            registered = events
        left = None if deadline is None else deadline.wait_until() - time.monotonic()
        if left is not None and left <= 0:
            raise psycopg2.OperationalError("PostgreSQL did not answer within the deadline.")
        poller.poll(None if left is None else max(1, int(left * 1000)))


def _reject_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Discard a pooled connection whose server side has gone, before the request uses it.

    WHY: an idle connection has nothing to read; a readable or hung-up socket means the server
    closed it (restart, ``pg_terminate_backend``, idle timeout) and sent its goodbye. Raising
    ``DisconnectionError`` here makes the pool drop it and check out another (SQLAlchemy's
    documented pessimistic-disconnect hook), so the request gets a live connection with no
    ``SELECT 1`` round trip. A server that froze without closing hangs the first statement
    instead of the ping; both waits are bounded alike by :func:`_wait_within_deadline`."""
    if dbapi_connection.closed:
        raise sqlalchemy.exc.DisconnectionError("The pooled connection is closed.")
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    if poller.poll(0):
        raise sqlalchemy.exc.DisconnectionError("The server closed the pooled connection.")


def _bound_transaction(connection: Any, statement_timeout_ms: int) -> None:
    """At the start of a request's transaction, its server-side timeouts from the time left."""
    deadline = deadlines.current()
    if deadline is None:
        return
    import psycopg2

    left_ms = max(1, int(deadline.remaining() * 1000))
    # WHY the smaller: SET LOCAL replaces the connection's statement_timeout, so the time left
    # alone (10 s by default, an x-deadline up to 300 s) let one statement run longer than
    # DB_STATEMENT_TIMEOUT_MS inside every request. The deadline may only shorten it.
    # (0, PostgreSQL's "no limit", leaves the time left alone in charge.)
    statement_ms = min(left_ms, statement_timeout_ms) if statement_timeout_ms > 0 else left_ms
    # WHY: SET LOCAL lasts for this transaction only; the pooled connection keeps its
    # defaults for the next request. One round trip for the three settings.
    statement = (
        f"SET LOCAL statement_timeout = {statement_ms}; SET LOCAL lock_timeout = {left_ms}; "
        f"SET LOCAL idle_in_transaction_session_timeout = {left_ms}"
    )
    try:
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()
    except psycopg2.Error as exc:
        # WHY: SQLAlchemy wraps driver errors of its own statements only; one raised in a
        # `begin` listener reached the app as a bare psycopg2 error, a 500 where a server
        # that went away mid-checkout must be a 503 like any other statement's.
        raise sqlalchemy.exc.DBAPIError.instance(statement, None, exc, psycopg2.Error) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Database:
    """Created unbound, bound to an engine by :meth:`configure`, to Flask by :meth:`init_app`."""

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None

    def configure(self, engine: Engine) -> None:
        self._engine = engine
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("Database is not configured; call configure(engine) at start-up.")
        return self._engine

    def new_session(self) -> Session:
        if self._factory is None:
            raise RuntimeError("Database is not configured; call configure(engine) at start-up.")
        return self._factory()

    def init_app(self, app: flask.Flask) -> None:
        app.after_request(self._commit)
        app.teardown_appcontext(self._close)

    @property
    def session(self) -> Session:
        """The current request's session, opened on first use."""
        session: Session | None = flask.g.get(_SESSION_KEY)
        if session is None:
            session = self.new_session()
            setattr(flask.g, _SESSION_KEY, session)
        return session

    @staticmethod
    def _commit(response: flask.Response) -> flask.Response:
        # WHY: the one commit of the request, after the handler succeeded and before the
        # response leaves: a failed commit still turns into an error response.
        session: Session | None = flask.g.get(_SESSION_KEY)
        if session is None or response.status_code >= 400:
            return response
        deadline = deadlines.current()
        if deadline is None:
            session.commit()
            return response
        # WHY: past the deadline the client is told 503 "nothing saved": refuse to commit.
        deadline.begin_commit()
        try:
            session.commit()
        except _dependency_errors() as exc:
            # WHY: the COMMIT was sent and its answer lost: it may have been applied.
            raise deadlines.CommitOutcomeUnknown from exc
        finally:
            deadline.end_commit()
        return response

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = flask.g.pop(_SESSION_KEY, None)
        if session is not None:
            session.rollback()
            session.close()

    def ping(self) -> None:
        """``SELECT 1`` on a pooled connection (a probe runs it under a short deadline)."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))


def _dependency_errors() -> tuple[type[BaseException], ...]:
    import sqlalchemy.exc

    return (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)
