"""Hand-written fakes for running the schema without HTTP: a store that counts reads
(to prove a resolver never ran) and one that fails (to see failures masked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from adapters.clock import FixedClock
from adapters.memory_store import MemorySnapshot, MemoryStore
from domain.queries import SessionFilters, TimeWindow
from domain.services import AttributionService
from graphql_api import GraphQLContext

NOW = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)


class NoBots:
    def bot_reason(self, user_agent: str) -> str | None:
        return None


class CountingStore(MemoryStore):
    """Counts the snapshots read: one per request that reached the store."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
        self.reads += 1
        async with super().snapshot() as snapshot:
            yield snapshot


class BrokenSnapshot(MemorySnapshot):
    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        raise RuntimeError("database password is hunter2")


class BrokenStore(MemoryStore):
    """Fails every session read with a message that must never reach a client."""

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
        yield BrokenSnapshot({})


async def context_for(store: MemoryStore) -> GraphQLContext:
    service = AttributionService(store, FixedClock(NOW), NoBots())
    created = await service.create_site("Example")
    return GraphQLContext(service=service, site=created.site)
