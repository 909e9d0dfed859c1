"""A login in flight while the password changes (or the account is disabled) does not survive it.

Each test stops one request at a chosen point with its transaction open, starts the other, and
waits until PostgreSQL shows the second one either finished or waiting for a row lock. Nothing
is decided by elapsed time: the deadlines only end a test that would otherwise hang (and one
test waits for the next wall-clock second, so that a token is issued after a not-before time)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from app import create_app
from app.config import Settings
from app.modules.auth.repo import RefreshTokenRepo
from app.wiring import Extensions, extensions
from runtime.testing import app_client
from tests.integration.conftest import PASSWORD, register_and_login
from tests.integration.test_security_refresh import open_families, refresh

API = "/api/v1"
NEW_PASSWORD = "a different long passphrase"
WAIT_S = 20.0


@pytest.fixture
def app_settings(isolated_app_settings: Settings) -> Settings:
    return isolated_app_settings


@pytest.fixture
def app_and_client(app_settings: Settings) -> Iterator[tuple[Extensions, TestClient]]:
    app = create_app(app_settings)
    with app_client(app) as client:
        yield extensions(app.app), client


class Pause:
    """Wraps a callable so that its first call stops, after doing its work, until released."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()
        self._armed = True
        self._lock = threading.Lock()

    def wrap(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def paused(*args: Any, **kwargs: Any) -> Any:
            result = inner(*args, **kwargs)
            with self._lock:
                first, self._armed = self._armed, False
            if first:
                self.reached.set()
                if not self.released.wait(WAIT_S):
                    raise RuntimeError("the test never released the paused call")
            return result

        return paused


def wait_for(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def next_second() -> None:
    """Wait for the next wall-clock second (tokens carry whole seconds)."""
    later = int(time.time()) + 1
    wait_for(lambda: time.time() >= later, "the next second")


def interleave(
    first: Callable[[], Any],
    pause: Pause,
    second: Callable[[], Any],
    *,
    settled: Callable[[Future[Any]], bool],
    before: Callable[[], None] = lambda: None,
    then: Callable[[], None] = lambda: None,
) -> tuple[Any, Any]:
    """Run ``first`` until ``pause`` holds it, then ``second`` until ``settled`` says so of
    it; ``before`` and ``then`` run around the second's start. Released, both answers."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(first)
        try:
            wait_for(pause.reached.is_set, "the first request to reach its pause")
            before()
            two = pool.submit(second)
            wait_for(lambda: settled(two), "the second request to settle")
            then()
        finally:
            pause.released.set()
        return one.result(WAIT_S), two.result(WAIT_S)


class LockWaits:
    """Backends of the test database (other than this one) waiting for a lock."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.seen: list[str] = []

    def any(self) -> bool:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ).all()
        self.seen = [row[0] for row in rows]
        return bool(rows)

    def or_done(self, request: Future[Any]) -> bool:
        """Whether ``request`` has finished, or some backend waits for a lock."""
        return request.done() or self.any()

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def lock_waits(clean_postgres: str) -> Iterator[LockWaits]:
    waits = LockWaits(clean_postgres)
    yield waits
    waits.close()


def change_of(
    kind: str, client: TestClient, victim: dict[str, Any], admin: Callable[[], dict[str, str]]
) -> Callable[[], Any]:
    """The request that must end every login of ``victim``: its password change or its disable."""
    if kind == "password change":
        body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        return lambda: client.patch(f"{API}/users/me", json=body, headers=victim["headers"])
    headers = admin()
    return lambda: client.post(f"{API}/users/{victim['id']}/disable", headers=headers)


def pause_before_commit(ext: Extensions, monkeypatch: pytest.MonkeyPatch) -> Pause:
    """Stops the change after its writes, before its commit: ``remember_user`` is its last step."""
    denylist = ext.authenticator.denylist
    pause = Pause()
    monkeypatch.setattr(denylist, "remember_user", pause.wrap(denylist.remember_user))
    return pause


@pytest.fixture
def admin(
    app_and_client: tuple[Extensions, TestClient], make_admin: Callable[[str], None]
) -> Callable[[], dict[str, str]]:
    def headers() -> dict[str, str]:
        _, client = app_and_client
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        register_and_login(client, email)
        make_admin(email)
        pair = client.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD})
        assert pair.status_code == 200 and "admin" in pair.json()["scope"].split(), pair.text
        return {"Authorization": f"Bearer {pair.json()['access_token']}"}

    return headers


def login(client: TestClient, email: str) -> Any:
    return client.post(f"{API}/auth/token", json={"email": email, "password": PASSWORD})


@pytest.mark.parametrize("kind", ["password change", "disable"])
def test_a_login_verifying_the_old_password_during_the_change_is_ended_by_it(
    kind: str,
    app_and_client: tuple[Extensions, TestClient],
    admin: Callable[[], dict[str, str]],
    lock_waits: LockWaits,
    clean_postgres: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The login read the row (the old hash) and stops inside its password check; the change
    runs meanwhile. It must wait for the login's row lock and then revoke the login's family
    too; without the lock it commits first and the family, inserted after, stays open. The
    change must also take its not-before time after that wait, or the login's access token,
    issued later, is accepted from the cache although its family is revoked."""
    ext, client = app_and_client
    victim = register_and_login(client)
    change = change_of(kind, client, victim, admin)
    pause = Pause()
    monkeypatch.setattr(ext.passwords, "verify", pause.wrap(ext.passwords.verify))
    # WHY the next second: the login's token is then issued in a later second than any
    # not-before time the change took before it waited (or finished): only a change that
    # really ran after the login can refuse that token.
    logged_in, changed = interleave(
        lambda: login(client, victim["email"]),
        pause,
        change,
        settled=lock_waits.or_done,
        then=next_second,
    )
    assert changed.status_code == 200, changed.text
    assert open_families(clean_postgres, victim["id"]) == 0
    # The login was answered (it read the old row and committed first), but the change that
    # came after ended it: its refresh token and its access token are refused.
    assert logged_in.status_code == 200, logged_in.status_code
    pair = logged_in.json()
    assert refresh(client, pair["refresh_token"]).status_code == 401
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.get(f"{API}/projects", headers=bearer).status_code == 401
    # What made it safe: the change waited for the login's row lock.
    assert [q for q in lock_waits.seen if "users" in q], lock_waits.seen


@pytest.mark.parametrize("kind", ["password change", "disable"])
def test_a_login_during_an_uncommitted_change_reads_the_changed_account(
    kind: str,
    app_and_client: tuple[Extensions, TestClient],
    admin: Callable[[], dict[str, str]],
    lock_waits: LockWaits,
    clean_postgres: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The change has written the row and revoked the families, and stops before its commit; a
    login with the old password then must wait for it and fail, not read the old row and add
    a family the revocation never saw."""
    ext, client = app_and_client
    victim = register_and_login(client)
    change = change_of(kind, client, victim, admin)
    pause = pause_before_commit(ext, monkeypatch)
    changed, logged_in = interleave(
        change,
        pause,
        lambda: login(client, victim["email"]),
        settled=lock_waits.or_done,
    )
    assert changed.status_code == 200, changed.text
    assert open_families(clean_postgres, victim["id"]) == 0
    assert logged_in.status_code == 401, logged_in.status_code
    # What made it safe: the login's locked read waited for the change's commit.
    assert [q for q in lock_waits.seen if "FROM users" in q and "FOR UPDATE" in q], lock_waits.seen


def test_a_login_waiting_on_a_long_change_is_a_503_not_a_hang(
    app_settings: Settings,
    clean_postgres: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row lock is waited for like any statement of the request: within its bounds
    (here a short statement timeout), then 503, with nothing of the login kept."""
    app = create_app(app_settings.model_copy(update={"db_statement_timeout_ms": 300}))
    with app_client(app) as client:
        ext = extensions(app.app)
        victim = register_and_login(client)
        pause = pause_before_commit(ext, monkeypatch)
        change = change_of("password change", client, victim, lambda: {})
        changed, logged_in = interleave(
            change, pause, lambda: login(client, victim["email"]), settled=Future.done
        )
        assert logged_in.status_code == 503, logged_in.status_code
        assert changed.status_code == 200, changed.text
        assert open_families(clean_postgres, victim["id"]) == 0


@pytest.mark.parametrize("kind", ["password change", "disable"])
def test_a_refresh_in_flight_during_the_change_gives_no_token_that_outlives_it(
    kind: str,
    app_and_client: tuple[Extensions, TestClient],
    admin: Callable[[], dict[str, str]],
    lock_waits: LockWaits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The refresh found its family open and claimed its token, and stops there; the change
    runs meanwhile. The refresh must then not issue an access token the change did not end."""
    _, client = app_and_client
    victim = register_and_login(client)
    change = change_of(kind, client, victim, admin)
    pause = Pause()
    monkeypatch.setattr(RefreshTokenRepo, "claim", pause.wrap(RefreshTokenRepo.claim))
    refreshed, changed = interleave(
        lambda: refresh(client, victim["refresh_token"]),
        pause,
        change,
        settled=lock_waits.or_done,
        then=next_second,
    )
    assert changed.status_code == 200, changed.text
    if refreshed.status_code == 200:
        pair = refreshed.json()
        assert refresh(client, pair["refresh_token"]).status_code == 401
        bearer = {"Authorization": f"Bearer {pair['access_token']}"}
        assert client.get(f"{API}/projects", headers=bearer).status_code == 401
    else:
        assert refreshed.status_code == 401, refreshed.status_code


@pytest.mark.parametrize("kind", ["password change", "disable"])
def test_a_refresh_during_an_uncommitted_change_is_refused(
    kind: str,
    app_and_client: tuple[Extensions, TestClient],
    admin: Callable[[], dict[str, str]],
    lock_waits: LockWaits,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The change has revoked the families and stops before its commit, until its not-before
    second; a refresh then must wait for it and fail, not read the family as open and issue
    an access token the not-before time does not refuse."""
    ext, client = app_and_client
    victim = register_and_login(client)
    change = change_of(kind, client, victim, admin)
    pause = pause_before_commit(ext, monkeypatch)
    # WHY the next second first: the refresh then issues its token at or after the change's
    # not-before second, so only the change's revocation of the family can refuse it.
    changed, refreshed = interleave(
        change,
        pause,
        lambda: refresh(client, victim["refresh_token"]),
        settled=lock_waits.or_done,
        before=next_second,
    )
    assert changed.status_code == 200, changed.text
    if refreshed.status_code == 200:
        bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert client.get(f"{API}/projects", headers=bearer).status_code == 401
    assert refreshed.status_code == 401, refreshed.status_code
    assert [q for q in lock_waits.seen if "FROM users" in q and "FOR UPDATE" in q], lock_waits.seen
