"""Raw-socket helpers for the suites of the shared HTTP edge (adapters/http/): requests a
well-behaved client library would refuse to send, and slow or vanishing clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


async def exchange(host: str, port: int, request: bytes, *, within: float = 10) -> RawResponse:
    """Send ``request`` as it is on a new connection and read one response."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(read_response(reader), within)
    finally:
        writer.close()
        await writer.wait_closed()


def post(path: str, body: bytes, *headers: bytes, content_length: int | None = None) -> bytes:
    """A raw POST; ``headers`` are whole lines without their CRLF."""
    length = len(body) if content_length is None else content_length
    lines = [
        f"POST {path} HTTP/1.1".encode(),
        b"Host: test",
        b"Content-Type: application/json",
        f"Content-Length: {length}".encode(),
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@dataclass
class Served:
    host: str
    port: int


async def serve(app: web.Application) -> AsyncIterator[Served]:
    """``app`` served on a loopback port by the edge's runner, as ``attributionhub serve``
    serves it (not aiohttp's test server, whose runner answers parser errors itself)."""
    # Imported here so that the helpers above load whatever the server module holds.
    from adapters.http.server import AppRunner

    runner = AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield Served(host, port)
    finally:
        await runner.cleanup()
