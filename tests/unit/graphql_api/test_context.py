"""One GraphQL request, one state: every field reads one snapshot at one instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.memory_store import MemoryStore
from domain.services import AttributionService
from graphql_api import build_schema
from graphql_api.context import GraphQLContext
from tests.unit.graphql_api.fakes import NoBots

START = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)


class TickingClock:
    def __init__(self) -> None:
        self.readings = 0

    def now(self) -> datetime:
        self.readings += 1
        return START + timedelta(seconds=self.readings)


async def test_every_field_of_one_request_reads_the_clock_once() -> None:
    clock = TickingClock()
    service = AttributionService(MemoryStore(), clock, NoBots())
    site = (await service.create_site("Example")).site
    await service.ingest(
        site.site_id,
        [
            {
                "type": "pageview",
                "visitor_id": "v1",
                "timestamp": "2025-07-20T10:00:00Z",
                "url": "https://example.com/",
            }
        ],
    )
    context = GraphQLContext(service=service, site=site)
    before = clock.readings
    try:
        result = await build_schema().execute(
            "{ a: sessions { pagination { totalRecords } } b: sessions(pageSize: 1) "
            "{ records { id } } pages { timeFrame { end } } }",
            context_value=context,
        )
    finally:
        await context.close()
    assert result.errors is None
    assert clock.readings - before == 1
    assert result.data is not None
    reading = START + timedelta(seconds=before + 1)
    assert result.data["pages"]["timeFrame"]["end"] == reading.strftime("%Y-%m-%dT%H:%M:%SZ")
