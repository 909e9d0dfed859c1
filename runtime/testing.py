"""Test seams shipped with the runtime: principals, app clients and a clock that waits for
the test. Import it from tests only."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import connexion
from starlette.testclient import TestClient

from runtime.auth import Principal
from runtime.services import close_app

__all__ = ["AppClients", "FakeClock", "app_client", "principal"]

# A fixed instant (2025-06-15), so token and cache arithmetic is the same on every run.
EPOCH_S = 1_750_000_000


def principal(
    subject: str | uuid.UUID | None = None,
    *,
    scopes: Iterable[str] = ("projects",),
    token_id: str | None = None,
    expires_at: int = EPOCH_S + 900,
    **claims: Any,
) -> Principal:
    """A verified caller, as the runtime hands it to a service: a fresh subject and token id
    unless given, and any extra claims (``sid``, ``iat``)."""
    return Principal(
        subject=str(subject or uuid.uuid4()),
        scopes=frozenset(scopes),
        token_id=token_id or uuid.uuid4().hex,
        expires_at=expires_at,
        claims=dict(claims),
    )


@contextmanager
def app_client(app: connexion.FlaskApp, **options: Any) -> Iterator[TestClient]:
    """A started test client of ``app`` (lifespan run); the app's pools close afterwards."""
    with AppClients() as apps, apps.client(app, **options) as client:
        yield client


class AppClients:
    """Test clients of the apps one test builds; leaving the block closes every app's pools."""

    def __init__(self) -> None:
        self._apps: list[connexion.FlaskApp] = []

    def client(self, app: connexion.FlaskApp, **options: Any) -> TestClient:
        """A client of ``app``; enter it (``with``) to run the app's lifespan."""
        self._apps.append(app)
        client: TestClient = app.test_client(**options)
        return client

    def close(self) -> None:
        while self._apps:
            close_app(self._apps.pop().app)

    def __enter__(self) -> AppClients:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class FakeClock:
    """A clock that moves only when the test moves it.

    Called, it returns seconds (a stand-in for ``time.monotonic`` or ``time.time``);
    :meth:`moment` gives the same instant as an aware UTC datetime."""

    def __init__(self, now: float = EPOCH_S) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now

    def moment(self) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now)

    def tick(self, seconds: float = 1.0) -> datetime:
        """Move on by ``seconds`` and return the new instant: distinct times for rows."""
        self.advance(seconds)
        return self.moment()
