"""What aiohttp's HTTP parser refuses before any middleware runs is answered in JSON
(adapters/http/server.py), with a fixed message that never echoes the request, and logged
without a traceback: the client is at fault, not the server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings
from tests.e2e.http_support import Served, exchange, serve

MARK = b"ECHO-ME"


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async for address in serve(init(Settings(), store=MemoryStore())):
        yield address


MALFORMED = {
    "nul in a header": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Note: a\x00" + MARK + b"\r\n\r\n",
    "header over 8 KB": b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: "
    + MARK
    + b"a" * 9000
    + b"\r\n\r\n",
    "request line over 8 KB": b"GET /" + MARK + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    "content-length not a number": b"POST /collect HTTP/1.1\r\nHost: t\r\nContent-Length: "
    + MARK
    + b"\r\n\r\n{}",
    "two content-lengths": b"POST /collect HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
    b"Content-Length: 3\r\n\r\n{}",
    "transfer-encoding unknown": b"POST /collect HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
    + MARK
    + b"\r\n\r\n{}",
    "chunk size not hex": b"POST /collect HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
    b"\r\n\r\n" + MARK + b"\r\n{}\r\n0\r\n\r\n",
    "garbage request line": MARK + b" \x16\x03\x01\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", list(MALFORMED.values()), ids=list(MALFORMED))
async def test_a_request_the_parser_refuses_gets_a_fixed_json_error(
    served: Served, request_bytes: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await exchange(served.host, served.port, request_bytes)
    assert 400 <= response.status < 500
    assert response.headers["content-type"].startswith("application/json")
    reply = response.json()
    assert list(reply) == ["error"]
    assert reply["error"].startswith("bad request: ")
    assert MARK not in response.body
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_parser_errors_of_one_kind_get_one_message_whatever_the_bytes(
    served: Served,
) -> None:
    replies = {
        (await exchange(served.host, served.port, MALFORMED["header over 8 KB"])).body,
        (
            await exchange(
                served.host,
                served.port,
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Other: " + b"z" * 9500 + b"\r\n\r\n",
            )
        ).body,
    }
    assert len(replies) == 1
