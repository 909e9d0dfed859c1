"""The pool hands out live PostgreSQL connections without a pre-ping round trip."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from runtime.db import make_engine
from tests.conftest import empty_database


@pytest.fixture
def engine() -> Iterator[Engine]:
    with empty_database("app_pool") as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        yield engine
        engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _statements(engine: Engine) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    return sent


def test_a_connection_the_server_closed_is_replaced_at_checkout(engine: Engine, url: str) -> None:
    first = _backend_pid(engine)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # WHY wait for the backend to leave pg_stat_activity rather than a fixed pause: the
        # server's goodbye reaches the pooled socket asynchronously, and a terminated backend
        # sends its FATAL message before its exit clears its entry, so from then on the
        # pooled socket has it to read, however slowly a loaded machine got there.
        gone = time.monotonic() + 30
        alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        while connection.execute(alive, {"pid": first}).scalar_one():
            assert time.monotonic() < gone, "the terminated backend never exited"
            time.sleep(0.01)
    admin.dispose()

    assert _backend_pid(engine) != first


def test_a_live_pooled_connection_is_reused_with_no_ping(engine: Engine) -> None:
    first = _backend_pid(engine)
    sent = _statements(engine)

    assert _backend_pid(engine) == first
    assert sent == ["SELECT pg_backend_pid()"]


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_server_gone_between_checkout_and_begin_is_an_operational_error(
    engine: Engine, url: str
) -> None:
    import sqlalchemy.exc

    from runtime.deadline import bounded

    with bounded(5), engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        connection.rollback()
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        # The deadline's SET LOCAL runs in the `begin` listener; its driver error must come
        # out as SQLAlchemy's, which the app answers with a 503, not as a bare psycopg2 one.
        with pytest.raises(sqlalchemy.exc.OperationalError):
            connection.begin()


def statement_timeouts(cap_ms: int, *deadlines: float | None) -> list[tuple[str, str]]:
    """``statement_timeout`` and ``lock_timeout`` inside a transaction under each deadline
    (None: outside any request), on an engine configured with ``cap_ms``."""
    from runtime.deadline import bounded

    shown = []
    with empty_database(f"app_pool_timeout_{cap_ms}") as url:
        engine = make_engine(url, pool_size=1, max_overflow=0, statement_timeout_ms=cap_ms)
        try:
            for seconds in deadlines:
                scope = bounded(seconds) if seconds is not None else contextlib.nullcontext()
                with scope, engine.begin() as connection:
                    show = connection.exec_driver_sql
                    shown.append(
                        (
                            show("SHOW statement_timeout").scalar_one(),
                            show("SHOW lock_timeout").scalar_one(),
                        )
                    )
        finally:
            engine.dispose()
    return shown


def milliseconds(setting: str) -> int:
    assert setting.endswith("ms"), setting
    return int(setting.removesuffix("ms"))


def test_a_request_deadline_never_raises_the_configured_statement_timeout() -> None:
    # A deadline far beyond the cap: the statement timeout stays the configured one, while
    # the lock wait is still bounded by the time left. A shorter deadline shortens it.
    (statement, lock), (short, _) = statement_timeouts(200, 300, 0.05)
    assert statement == "200ms"
    assert lock not in ("0", "200ms")
    assert milliseconds(short) <= 50


def test_without_a_configured_statement_timeout_the_deadline_still_bounds_statements() -> None:
    # 0 is PostgreSQL's "no limit": outside a request it stays so, inside one the time left.
    (inside, _), (outside, _) = statement_timeouts(0, 60, None)
    assert outside == "0"
    assert 0 < milliseconds(inside) <= 60_000
