"""The bulk-import use case against the in-memory fake store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from domain.bulk_import import MAX_IMPORT_BATCH_EVENTS, import_lines
from domain.queries import SessionFilters, TimeWindow
from domain.services import AttributionService

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)


class NoBots:
    def bot_reason(self, user_agent: str) -> str | None:
        return "Bot" if user_agent.startswith("Bot") else None


def line(event_id: str, visitor: str = "v-1", **extra: str) -> bytes:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": "2025-07-15T10:00:00Z",
        "url": "https://example.com/",
        **extra,
    }
    return json.dumps(raw).encode() + b"\n"


async def stored_event_ids(service: AttributionService, site_id: str) -> set[str]:
    sessions = await service.store.list_sessions(
        site_id, SessionFilters(), TimeWindow(), limit=1000
    )
    visitors = {s.visitor_id for s in sessions}
    return {e.event_id for v in visitors for e in await service.store.visitor_events(site_id, v)}


@pytest.fixture
def service() -> AttributionService:
    return AttributionService(MemoryStore(), FixedClock(NOW), NoBots())


async def test_bad_lines_are_rejected_in_line_order_and_their_batch_is_still_stored(
    service: AttributionService,
) -> None:
    site = (await service.create_site("A")).site.site_id
    lines = [
        b"\xef\xbb\xbf" + line("e1"),
        b"{not json\n",
        line("e2", url="not a url"),
        b"\n",
        b"[1]\n",
        line("e3", visitor="v-2"),
        line("e4", user_agent="Bot/1"),
        line("e1"),
    ]

    summary = await import_lines(service, site, lines, batch_size=3)

    assert (summary.lines, summary.blank) == (8, 1)
    assert (summary.accepted, summary.duplicates, summary.bots) == (2, 1, 1)
    assert [number for number, _ in summary.rejected] == [2, 3, 5]
    assert summary.rejected[0][1].startswith("not valid JSON (column ")
    assert summary.rejected[1][1].startswith("url: ")
    assert summary.rejected[2][1] == "event: expected a JSON object, got an array"
    assert await stored_event_ids(service, site) == {"e1", "e3"}


async def test_progress_is_reported_once_a_batch_and_adds_up_to_the_whole_input(
    service: AttributionService,
) -> None:
    site = (await service.create_site("A")).site.site_id
    lines = [line(f"e{i}", visitor=f"v-{i}") for i in range(7)]
    calls: list[tuple[int, int]] = []

    summary = await import_lines(
        service, site, lines, batch_size=3, on_progress=lambda b, n: calls.append((b, n))
    )

    assert summary.accepted == 7
    assert [events for _, events in calls] == [3, 3, 1]
    assert sum(read for read, _ in calls) == sum(len(x) for x in lines)


async def test_a_decoder_may_be_passed_and_its_value_errors_are_rejections(
    service: AttributionService,
) -> None:
    site = (await service.create_site("A")).site.site_id

    def strict(raw: bytes) -> object:
        if b"NaN" in raw:
            raise ValueError("NaN is not JSON")
        return json.loads(raw)

    summary = await import_lines(service, site, [line("e1"), b'{"x": NaN}\n'], decode=strict)

    assert summary.accepted == 1
    assert summary.rejected == [(2, "not valid JSON (NaN is not JSON)")]


@pytest.mark.parametrize("size", [0, MAX_IMPORT_BATCH_EVENTS + 1])
async def test_a_batch_size_out_of_range_is_refused(service: AttributionService, size: int) -> None:
    with pytest.raises(ValueError, match=r"batch_size: expected 1\.\.50000"):
        await import_lines(service, "site", [], batch_size=size)
