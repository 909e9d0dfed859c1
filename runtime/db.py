"""SQLAlchemy engine and a session per request, committed in exactly one place."""

from __future__ import annotations

from typing import Any

import flask
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

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
) -> Engine:
    """An engine whose every wait is bounded: connect, pool checkout and each statement."""
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
    if url.startswith("postgresql"):
        connect_args = {
            "connect_timeout": connect_timeout_s,
            "options": f"-c statement_timeout={statement_timeout_ms}",
            "application_name": "api",
        }
    engine = create_engine(
        url,
        poolclass=WaitTimingQueuePool,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    instrument_engine(engine)
    return engine


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
        if session is not None and response.status_code < 400:
            session.commit()
        return response

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = flask.g.pop(_SESSION_KEY, None)
        if session is not None:
            session.rollback()
            session.close()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
