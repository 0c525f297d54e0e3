"""Reading request bodies (``adapters.http.bodies``) when the body itself fails."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request

from adapters.http.bodies import read_body
from adapters.http.errors import HttpError


class _Connection:
    """What a ``StreamReader`` asks of its connection: flow control only."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


async def test_a_body_whose_framing_breaks_off_is_a_400_naming_the_body() -> None:
    # What aiohttp's parser leaves in the payload when a chunk size cannot be read.
    payload = StreamReader(_Connection(), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b'{"a": ')
    payload.set_exception(web.RequestPayloadError("bad chunk size"))
    request = make_mocked_request(
        "POST",
        "/api/v1/events",
        headers={"Transfer-Encoding": "chunked"},
        payload=payload,
        app=web.Application(),
    )

    with pytest.raises(HttpError) as raised:
        await read_body(request, max_bytes=1024)

    assert raised.value.status == 400
    assert "body: malformed" in raised.value.message
