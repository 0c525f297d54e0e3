"""Slow clients at the shared edge (adapters/http/bodies.py): a body must arrive within
a time limit (408), and at most so many bodies may be arriving at once (503), so that
clients feeding a byte a second cannot hold the server. Real sockets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from attributionhub.config import Settings
from tests.e2e.conftest import Running
from tests.e2e.http_support import RawResponse, post, read_response


@pytest.fixture
def settings() -> Settings:
    # Short limits, so that the slow clients below are caught within a test's patience.
    return replace(Settings(access_log=False), body_timeout_seconds=0.5, max_pending_bodies=2)


@pytest.fixture
async def slow_clients(running: Running) -> AsyncIterator[list[asyncio.StreamWriter]]:
    writers: list[asyncio.StreamWriter] = []
    yield writers
    for writer in writers:
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)


async def _start_slow_body(
    running: Running, path: str, credential: bytes, writers: list[asyncio.StreamWriter]
) -> asyncio.StreamReader:
    """Headers promising 1,000 bytes, then only the first one."""
    server = running.client.server
    assert server.host is not None
    assert server.port is not None
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writers.append(writer)
    writer.write(post(path, b"{", credential, content_length=1000))
    await writer.drain()
    return reader


async def _answer(reader: asyncio.StreamReader, within: float = 5) -> RawResponse:
    return await asyncio.wait_for(read_response(reader), within)


@pytest.mark.parametrize("path", ["/collect", "/api/v1/events", "/graphql"])
async def test_a_body_that_trickles_in_is_refused_with_408_once_its_time_is_up(
    running: Running, slow_clients: list[asyncio.StreamWriter], path: str
) -> None:
    new = await running.new_site()
    credential = (
        b"X-Tracker-Token: " + new.tracker_token.encode()
        if path == "/collect"
        else b"Authentication: " + new.api_key.encode()
    )
    reader = await _start_slow_body(running, path, credential, slow_clients)
    started = asyncio.get_running_loop().time()
    writer = slow_clients[-1]
    # One more byte every 0.1 s: never idle for long, never done within the limit.
    feeding = asyncio.ensure_future(_trickle(writer))
    try:
        response = await _answer(reader)
    finally:
        feeding.cancel()
    elapsed = asyncio.get_running_loop().time() - started
    assert response.status == 408
    assert response.headers["content-type"].startswith("application/json")
    message = "body: not received within 0.5 seconds; send it at once"
    if path == "/graphql":
        assert response.json() == {"errors": [{"message": message}]}
    else:
        assert response.json() == {"error": message}
    assert 0.4 < elapsed < 3


async def _trickle(writer: asyncio.StreamWriter) -> None:
    while True:
        await asyncio.sleep(0.1)
        writer.write(b" ")
        await writer.drain()


async def test_bodies_beyond_the_cap_of_unfinished_ones_get_a_503_at_once(
    running: Running, slow_clients: list[asyncio.StreamWriter]
) -> None:
    new = await running.new_site()
    credential = b"X-Tracker-Token: " + new.tracker_token.encode()
    for _ in range(2):
        await _start_slow_body(running, "/collect", credential, slow_clients)
    await asyncio.sleep(0.1)  # both are inside, waiting for their bodies
    reader = await _start_slow_body(running, "/collect", credential, slow_clients)
    response = await _answer(reader, within=0.4)  # before the others' time is up
    assert response.status == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"].startswith("server busy: too many request bodies")


async def test_a_body_that_arrived_whole_takes_no_slot_while_slow_ones_wait(
    running: Running, slow_clients: list[asyncio.StreamWriter]
) -> None:
    new = await running.new_site()
    credential = b"X-Tracker-Token: " + new.tracker_token.encode()
    for _ in range(2):
        await _start_slow_body(running, "/collect", credential, slow_clients)
    await asyncio.sleep(0.1)
    event = {"type": "pageview", "visitor_id": "v1", "url": "https://example.com/"}
    response = await running.client.post(f"/collect?token={new.tracker_token}", json=event)
    assert response.status == 200
