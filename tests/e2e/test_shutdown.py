"""Graceful shutdown: a request in flight when Gunicorn gets SIGTERM is answered and committed."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.test_flow import login
from tests.server import production_env, running_server


def _read_response(sock: socket.socket, timeout_s: float = 15) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def _read_until(sock: socket.socket, end: bytes, timeout_s: float = 15) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    while end not in data:
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s: {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("dispatch", ["thread", "inline"])
def test_a_request_in_flight_at_sigterm_is_answered_and_committed(
    tmp_path: Path, clean_postgres: str, clean_redis: str, dispatch: str
) -> None:
    env = {**production_env(tmp_path, clean_postgres, clean_redis), "FLASK_DISPATCH": dispatch}
    name = f"Sent across a shutdown ({dispatch})"
    body = json.dumps({"name": name}).encode()
    with running_server(env, tmp_path / "server.log", workers=1) as server:
        authorization = login(server.api)["Authorization"]
        port = int(server.base_url.rsplit(":", 1)[1])
        # WHY Expect: 100-continue: uvicorn answers "100 Continue" when the app first reads
        # the body, which is the proof that the request is in flight inside the worker.
        head = (
            f"POST /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
            f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head)
            interim = _read_until(sock, b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 100 Continue"), interim[:200]
            sock.sendall(body[:5])
            os.killpg(server.process.pid, signal.SIGTERM)
            _wait_for(lambda: "Handling signal: term" in server.log(), "SIGTERM reached Gunicorn")
            sock.sendall(body[5:])
            response = _read_response(sock)
        assert server.process.wait(20) == 0, server.log()

    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created", response[:500]
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["name"] == name
    engine = create_engine(clean_postgres)
    with engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM projects")).scalars().all()
    engine.dispose()
    assert names == [name]
