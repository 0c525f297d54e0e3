"""End-to-end fixtures: the real aiohttp app, served on a loopback port, with a fixed
clock and a store from every production adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.clock import FixedClock
from adapters.sqlite import SqliteStore
from attributionhub.app import SERVICE, init
from attributionhub.config import Settings
from domain.ports import Store
from domain.services import AttributionService, NewSite
from tests.integration.mongo_shim import mongomock_store

NOW = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)

StoreFactory = Callable[[Path], Awaitable[Store]]


async def _sqlite(tmp_path: Path) -> Store:
    return await SqliteStore.open(tmp_path / "e2e.db")


async def _mongomock(tmp_path: Path) -> Store:
    return await mongomock_store()


# Every production store runs the end-to-end suites; the Mongo adapter adds itself here.
E2E_STORES: dict[str, StoreFactory] = {"sqlite": _sqlite, "mongomock": _mongomock}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings() -> Settings:
    return Settings(access_log=False)


@pytest.fixture(params=sorted(E2E_STORES))
async def e2e_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store = await E2E_STORES[request.param](tmp_path)
    try:
        yield store
    finally:
        await store.close()


@dataclass
class Running:
    client: TestClient[Any, Any]
    service: AttributionService
    clock: FixedClock

    async def new_site(self, name: str = "Example") -> NewSite:
        return await self.service.create_site(name)


@pytest.fixture
async def running(
    e2e_store: Store, clock: FixedClock, settings: Settings
) -> AsyncIterator[Running]:
    app = init(settings, store=e2e_store, clock=clock)
    async with TestClient(TestServer(app)) as client:
        yield Running(client=client, service=app[SERVICE], clock=clock)
