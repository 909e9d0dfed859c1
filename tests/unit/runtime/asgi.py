"""Drive a pure ASGI app with one HTTP request and collect its reply, without a server."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Scope


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def drive(app: ASGIApp, scope: Scope, chunks: tuple[bytes, ...] = (b"",)) -> Reply:
    """Send ``chunks`` as the request body (then a disconnect) and return the response."""
    sent: list[Message] = []
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return Reply(
        status=sent[0]["status"],
        headers={k.decode().lower(): v.decode() for k, v in sent[0]["headers"]},
        body=b"".join(m.get("body", b"") for m in sent[1:]),
    )
