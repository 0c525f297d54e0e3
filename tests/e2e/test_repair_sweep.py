"""The repair sweep of a serving app (docs/deployment.md): visitors a failed MongoDB
ingest left pending are re-cut at start and every minute, in the background."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from attributionhub import app as app_module
from attributionhub.app import init
from attributionhub.config import Settings
from domain.ports import Recut, StoreUnavailableError

SWEEP_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.01


async def test_a_serving_app_repairs_pending_visitors_at_start_and_keeps_trying_after_a_failure(
    clock: FixedClock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingOnceStore(MemoryStore):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        async def repair_pending(self, recut: Recut, *, visitors: int) -> int:
            self.calls += 1
            if self.calls == 1:
                raise StoreUnavailableError("MongoDB unavailable: injected")
            return 0

    store = FailingOnceStore()
    # A short interval, so that the round after the failure comes within the test.
    monkeypatch.setattr(app_module, "REPAIR_SWEEP_SECONDS", 0.01)
    app = init(settings, store=store, clock=clock)
    async with TestClient(TestServer(app)) as client:
        for _ in range(int(SWEEP_WAIT_SECONDS / POLL_SECONDS)):
            if store.calls >= 2:
                break
            await asyncio.sleep(POLL_SECONDS)
        assert store.calls >= 2
        assert (await client.get("/healthz")).status == 200
