"""The retention sweep of a serving app (docs/privacy.md, "Retention"): it runs at
start, in the background, and the app answers requests meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import FixedClock
from attributionhub.app import SERVICE, init, sweep_forever
from attributionhub.config import Settings
from domain.ports import Store
from domain.services import AttributionService
from tests.e2e.rest_support import JOURNEYS, seed

SWEEP_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.01


async def _until_purged(service: AttributionService, site_id: str, visitor: str) -> None:
    for _ in range(int(SWEEP_WAIT_SECONDS / POLL_SECONDS)):
        if not await service.store.visitor_events(site_id, visitor):
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"visitor {visitor!r} still stored {SWEEP_WAIT_SECONDS} s after start")


async def test_a_serving_app_with_retention_set_purges_old_events_at_start(
    e2e_store: Store, clock: FixedClock, settings: Settings
) -> None:
    seeding = AttributionService(e2e_store, clock, bots=_NoBots())
    site = await seeding.create_site("Old data")
    await seed(seeding, site.site.site_id, JOURNEYS)

    # 20 days before NOW (July 12, 12:00): E's and B's sessions (July 5-11) are older,
    # C's (July 15-16) are not.
    app = init(replace(settings, retention_days=20), store=e2e_store, clock=clock)
    async with TestClient(TestServer(app)) as client:
        service = app[SERVICE]
        await _until_purged(service, site.site.site_id, "E")
        health = await client.get("/healthz")
        assert health.status == 200
        await _until_purged(service, site.site.site_id, "B")
        assert len(await service.store.visitor_events(site.site.site_id, "C")) == 6


async def test_without_retention_set_the_app_keeps_old_events(
    e2e_store: Store, clock: FixedClock, settings: Settings
) -> None:
    app = init(settings, store=e2e_store, clock=clock)
    async with TestClient(TestServer(app)):
        service = app[SERVICE]
        site = await service.create_site("Kept")
        await seed(service, site.site.site_id, JOURNEYS)
        # Let a sweep, were one running, have its turn.
        await asyncio.sleep(0.05)
        assert len(await service.store.visitor_events(site.site.site_id, "E")) == 7


async def test_a_failed_sweep_is_tried_again_at_the_next_interval() -> None:
    calls: list[int] = []
    second = asyncio.Event()

    class Failing:
        async def purge(self, days: int) -> object:
            calls.append(days)
            if len(calls) == 2:
                second.set()
            raise RuntimeError("store unavailable")

    task = asyncio.create_task(sweep_forever(Failing(), 30, 0.01))  # type: ignore[arg-type]
    await asyncio.wait_for(second.wait(), SWEEP_WAIT_SECONDS)
    task.cancel()
    assert calls[:2] == [30, 30]


class _NoBots:
    def bot_reason(self, user_agent: str) -> str | None:
        return None
