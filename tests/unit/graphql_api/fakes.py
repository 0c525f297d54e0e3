"""Hand-written fakes for running the schema without HTTP: a store that counts reads
(to prove a resolver never ran) and one that fails (to see failures masked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from domain.model import Session
from domain.page_report import VisitorJourney
from domain.ports import SessionKey
from domain.queries import ConversionDefinition, SessionFilters, TimeWindow
from domain.services import AttributionService
from graphql_api import GraphQLContext

NOW = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)


class NoBots:
    def is_bot(self, user_agent: str) -> bool:
        return False


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        self.reads += 1
        return await super().count_sessions(site_id, filters, window)

    async def list_sessions(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        *,
        limit: int,
        offset: int = 0,
        after: SessionKey | None = None,
    ) -> list[Session]:
        self.reads += 1
        return await super().list_sessions(
            site_id, filters, window, limit=limit, offset=offset, after=after
        )

    def stream_outlines(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Session]:
        self.reads += 1
        return super().stream_outlines(site_id, filters, window)

    async def window_journeys(
        self,
        site_id: str,
        filters: SessionFilters,
        window: TimeWindow,
        definition: ConversionDefinition,
    ) -> dict[str, VisitorJourney]:
        self.reads += 1
        return await super().window_journeys(site_id, filters, window, definition)


class BrokenStore(MemoryStore):
    """Fails every session read with a message that must never reach a client."""

    async def count_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> int:
        raise RuntimeError("database password is hunter2")


async def context_for(store: MemoryStore) -> GraphQLContext:
    service = AttributionService(store, FixedClock(NOW), NoBots())
    created = await service.create_site("Example")
    return GraphQLContext(service=service, site=created.site)
