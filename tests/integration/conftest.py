"""Store fixtures: every contract test runs once per adapter listed in ``STORE_FACTORIES``.

A new adapter joins the suite with one entry: an async factory that gets a fresh,
empty store (it may ``pytest.skip`` when its server is unavailable).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from adapters.memory_store import MemoryStore
from adapters.sqlite import SqliteStore
from domain.ports import Store
from tests.integration.mongo_shim import (
    REAL_SKIP_REASON,
    mongomock_store,
    real_mongodb_url,
    real_store,
)

StoreFactory = Callable[[Path], Awaitable[Store]]


async def _memory_store(tmp_path: Path) -> Store:
    return MemoryStore()


async def _sqlite_store(tmp_path: Path) -> Store:
    return await SqliteStore.open(tmp_path / "store" / "attributionhub.db")


async def _mongomock_store(tmp_path: Path) -> Store:
    return await mongomock_store()


async def _mongo_real_store(tmp_path: Path) -> Store:
    url = real_mongodb_url()
    if url is None:
        pytest.skip(REAL_SKIP_REASON)
    return await real_store(url)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "memory": _memory_store,
    "sqlite": _sqlite_store,
    "mongomock": _mongomock_store,
    "mongo_real": _mongo_real_store,
}


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.mongo_real) if name == "mongo_real" else name
        for name in STORE_FACTORIES
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    factory = STORE_FACTORIES[request.param]
    opened = await factory(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()
