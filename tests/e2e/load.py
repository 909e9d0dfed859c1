"""Bounded load through a running service, with every outcome logged for the fault suite.

A fixed number of client threads create projects (each name unique, so the database can be
compared with what each client was told), while two probe threads poll ``/livez`` and
``/readyz``. Every loop is bounded in count and in time."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Outcome:
    name: str
    started: float
    elapsed: float
    status: int | None  # None: the connection failed (no answer at all)
    kind: str | None = None  # the problem type's last segment
    retry_after: str | None = None
    connection: str | None = None

    @property
    def told_failed(self) -> bool:
        """The client was told its write was not saved (a retry is safe)."""
        return (
            self.status is not None and self.status != 201 and self.kind != "commit-outcome-unknown"
        )


@dataclass(frozen=True)
class Probe:
    started: float
    ended: float
    status: int | None


@dataclass
class Load:
    api: str
    headers: dict[str, str]
    clients: int = 6
    timeout_s: float = 15.0
    max_requests: int = 3000
    pause_s: float = 0.02
    outcomes: list[Outcome] = field(default_factory=list)
    live: list[Probe] = field(default_factory=list)
    ready: list[Probe] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> Load:
        self._threads = [
            threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)
        ]
        self._threads.append(threading.Thread(target=self._probe, args=("livez", 0.1, self.live)))
        self._threads.append(threading.Thread(target=self._probe, args=("readyz", 0.2, self.ready)))
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout_s + 5)

    def _client(self) -> None:
        with httpx.Client(headers=self.headers, timeout=self.timeout_s) as client:
            for _ in range(self.max_requests // self.clients):
                if self._stop.is_set():
                    return
                name = f"load-{uuid.uuid4().hex}"
                started = time.monotonic()
                try:
                    response = client.post(f"{self.api}/projects", json={"name": name})
                except httpx.TransportError:
                    outcome = Outcome(name, started, time.monotonic() - started, None)
                else:
                    kind = None
                    if response.headers.get("content-type") == "application/problem+json":
                        kind = str(response.json().get("type", "")).rsplit("/", 1)[-1]
                    outcome = Outcome(
                        name,
                        started,
                        time.monotonic() - started,
                        response.status_code,
                        kind,
                        response.headers.get("retry-after"),
                        response.headers.get("connection"),
                    )
                with self._lock:
                    self.outcomes.append(outcome)
                time.sleep(self.pause_s)

    def _probe(self, path: str, every_s: float, into: list[Probe]) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            for _ in range(int(600 / every_s)):
                if self._stop.is_set():
                    return
                started = time.monotonic()
                try:
                    status: int | None = client.get(f"{self.api}/{path}").status_code
                except httpx.TransportError:
                    status = None
                into.append(Probe(started, time.monotonic(), status))
                time.sleep(every_s)

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if start <= o.started < end]

    def statuses(self, start: float, end: float) -> Counter[int | None]:
        return Counter(o.status for o in self.between(start, end))
