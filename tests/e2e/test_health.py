"""``GET /healthz`` (attributionhub/app.py) checks that the store answers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.memory_store import MemoryStore
from attributionhub.app import init
from attributionhub.config import Settings
from tests.e2e.conftest import Running


async def test_healthz_is_ok_while_the_store_answers(running: Running) -> None:
    response = await running.client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_healthz_is_a_503_with_a_clear_message_when_the_store_does_not_answer(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    await running.service.store.close()
    response = await running.client.get("/healthz")
    assert response.status == 503
    assert await response.json() == {
        "status": "unavailable",
        "error": "store unavailable: it did not answer a ping within 2 seconds "
        "(the server log has the reason)",
    }
    # The server's side of the failure: logged with its reason.
    assert [r for r in caplog.records if r.name == "attributionhub.health" and r.exc_info]


class HangingStore(MemoryStore):
    """A store whose server never answers (a network partition, say)."""

    async def ping(self) -> None:
        await asyncio.Event().wait()


async def test_healthz_gives_up_on_a_store_that_never_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    app = init(Settings(access_log=False), store=HangingStore())
    async with TestClient(TestServer(app)) as client:
        started = time.monotonic()
        response = await client.get("/healthz")
        assert response.status == 503
        assert 1.5 < time.monotonic() - started < 5
