"""The application services against the in-memory fake store."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.clock import FixedClock
from adapters.memory_store import MemorySnapshot, MemoryStore
from domain.model import Site
from domain.page_report import ReportSession
from domain.parameters import ParameterError
from domain.ports import SessionKey
from domain.queries import SessionFilters, TimeWindow
from domain.services import (
    MAX_BATCH_EVENTS,
    MAX_CREDENTIAL_LENGTH,
    AttributionService,
    BatchTooLargeError,
)

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)


class ListBots:
    """A detector that knows exactly the agents it is given."""

    def __init__(self, *agents: str) -> None:
        self.agents = set(agents)

    def bot_reason(self, user_agent: str) -> str | None:
        # A listed agent's product name is the reason: "EvilBot/1.0" -> "EvilBot".
        return user_agent.split("/")[0] if user_agent in self.agents else None


@pytest.fixture
def service() -> AttributionService:
    return AttributionService(MemoryStore(), FixedClock(NOW), ListBots("EvilBot/1.0"))


def pv(event_id: str, visitor: str, when: str, path: str = "/", **extra: Any) -> dict[str, Any]:
    return {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": when,
        "url": "https://example.com" + path,
        **extra,
    }


async def test_created_site_keys_authenticate_only_their_site(service: AttributionService) -> None:
    a = await service.create_site("A")
    b = await service.create_site("B")
    assert (await service.site_for_api_key(a.api_key)) == a.site
    assert (await service.site_for_api_key(b.api_key)) == b.site
    assert (await service.site_for_tracker_token(a.tracker_token)) == a.site
    assert await service.site_for_api_key(a.tracker_token) is None
    assert await service.site_for_api_key("ahk_wrong") is None


async def test_keys_are_stored_only_as_hashes(service: AttributionService) -> None:
    new = await service.create_site("A")
    assert new.api_key not in (new.site.api_key_hash, new.site.tracker_token_hash)
    assert new.tracker_token not in (new.site.api_key_hash, new.site.tracker_token_hash)
    assert len(new.api_key) >= 40


async def test_ingest_stores_valid_events_and_reports_each_rejection(
    service: AttributionService,
) -> None:
    report = await service.ingest(
        "s",
        [
            pv("e1", "v1", "2025-07-20T10:00:00Z"),
            {"type": "pageview", "visitor_id": "v1", "timestamp": "nope", "url": "https://e.com"},
            pv("e2", "v1", "2025-07-20T10:01:00Z", "/b"),
            "not an object",
        ],
    )
    assert (report.accepted, report.duplicates, report.bots) == (2, 0, 0)
    assert [(r.index, r.error.split(":")[0]) for r in report.rejected] == [
        (1, "timestamp"),
        (3, "event"),
    ]
    page = await service.list_sessions("s", {})
    assert page.total_records == 1
    assert len(page.sessions[0].path) == 2


async def test_bot_events_are_dropped_and_counted(service: AttributionService) -> None:
    report = await service.ingest(
        "s",
        [
            pv("e1", "v1", "2025-07-20T10:00:00Z", user_agent="EvilBot/1.0"),
            pv("e2", "v2", "2025-07-20T10:00:00Z", user_agent="Mozilla/5.0"),
        ],
    )
    assert (report.accepted, report.bots) == (1, 1)
    assert (await service.list_sessions("s", {})).total_records == 1


async def test_dropped_bots_are_counted_per_site_and_reason_across_batches() -> None:
    clock = FixedClock(NOW)
    service = AttributionService(MemoryStore(), clock, ListBots("EvilBot/1.0", "Crawly/2"))
    at = "2025-07-20T10:00:00Z"
    first = await service.ingest(
        "s",
        [
            pv("e1", "v1", at, user_agent="EvilBot/1.0"),
            pv("e2", "v2", at, user_agent="Crawly/2"),
            pv("e3", "v3", at, user_agent="EvilBot/1.0"),
            pv("e4", "v4", at, user_agent="Mozilla/5.0"),
        ],
    )
    assert first.bot_reasons == (("Crawly", 1), ("EvilBot", 2))
    clock.advance(timedelta(minutes=5))
    await service.ingest("s", [pv("e5", "v5", at, user_agent="Crawly/2")])
    await service.ingest("other", [pv("e1", "v1", at, user_agent="EvilBot/1.0")])
    async with service.reading() as reads:
        dropped = await reads.dropped_bots("s")
    assert [(d.reason, d.events, d.last_seen) for d in dropped] == [
        ("Crawly", 2, NOW + timedelta(minutes=5)),
        ("EvilBot", 2, NOW),
    ]


async def test_a_site_without_dropped_bots_has_no_counts(service: AttributionService) -> None:
    await service.ingest("s", [pv("e1", "v1", "2025-07-20T10:00:00Z")])
    async with service.reading() as reads:
        assert await reads.dropped_bots("s") == []


async def test_same_batch_twice_is_stored_once(service: AttributionService) -> None:
    batch = [pv("e1", "v1", "2025-07-20T10:00:00Z"), pv("e2", "v1", "2025-07-20T10:05:00Z")]
    first = await service.ingest("s", batch)
    second = await service.ingest("s", batch)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (second.accepted, second.duplicates) == (0, 2)


async def test_concurrent_overlapping_batches_accept_each_event_once(
    service: AttributionService,
) -> None:
    events = [pv(f"e{i}", f"v{i % 3}", f"2025-07-20T10:{i:02d}:00Z") for i in range(20)]
    reports = await asyncio.gather(
        service.ingest("s", events[:15]), service.ingest("s", events[5:])
    )
    assert sum(r.accepted for r in reports) == 20
    assert sum(r.duplicates for r in reports) == 10


async def test_a_browser_event_without_its_clock_is_stamped_with_the_arrival(
    service: AttributionService,
) -> None:
    await service.ingest("s", [pv("e1", "v1", "1999-01-01T00:00:00Z")], from_browser=True)
    page = await service.list_sessions("s", {})
    assert page.sessions[0].start == NOW


def ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


async def test_browser_events_are_ordered_by_the_browser_clock_not_by_arrival(
    service: AttributionService,
) -> None:
    # The exit of /a (created first) arrives after the pageview of /b: the browser's
    # clock, 3 s apart, puts /a's exit first, so the exit page is /b, not /a.
    shown = NOW - timedelta(seconds=10)
    pageview_a = {**pv("e1", "v1", "ignored", "/a"), "client_time": ms(shown), "sent_at": ms(shown)}
    exit_a = {
        **pv("e2", "v1", "ignored", "/a"),
        "type": "exit",
        "client_time": ms(shown) + 3_000,
        "sent_at": ms(shown) + 3_000,
    }
    pageview_b = {
        **pv("e3", "v1", "ignored", "/b"),
        "client_time": ms(shown) + 3_100,
        "sent_at": ms(shown) + 3_100,
    }
    await service.ingest("s", [pageview_a], from_browser=True)
    await service.ingest("s", [pageview_b], from_browser=True)
    await service.ingest("s", [exit_a], from_browser=True)
    [session] = (await service.list_sessions("s", {})).sessions
    assert [v.url for v in session.path] == ["https://example.com/a", "https://example.com/b"]
    assert session.start == shown


async def test_batch_over_the_limit_is_refused_whole(service: AttributionService) -> None:
    with pytest.raises(BatchTooLargeError):
        await service.ingest("s", [{}] * (MAX_BATCH_EVENTS + 1))


async def test_sessions_are_paginated_newest_first(service: AttributionService) -> None:
    start = datetime(2025, 7, 1, tzinfo=UTC)
    events = [
        pv(f"e{i}", f"v{i:03d}", (start + timedelta(hours=i)).isoformat()) for i in range(120)
    ]
    await service.ingest("s", events)
    pages = [await service.list_sessions("s", {"page": n}) for n in (1, 2, 3, 4)]
    assert [len(p.sessions) for p in pages] == [50, 50, 20, 0]
    assert {(p.total_pages, p.total_records) for p in pages} == {(3, 120)}
    starts = [s.start for p in pages for s in p.sessions]
    assert starts == sorted(starts, reverse=True)
    assert len({s.session_id for p in pages for s in p.sessions}) == 120


async def test_page_report_uses_whole_history_for_touch_scopes(
    service: AttributionService,
) -> None:
    # v1: first session in June (outside the window), converts in July.
    await service.ingest(
        "s",
        [
            pv("a1", "v1", "2025-06-10T10:00:00Z", "/blog"),
            pv("a2", "v1", "2025-07-10T10:00:00Z", "/pricing?utm_source=news"),
            {
                "type": "conversion",
                "event_id": "a3",
                "visitor_id": "v1",
                "timestamp": "2025-07-10T10:02:00Z",
                "url": "https://example.com/signup",
            },
            pv("b1", "v2", "2025-07-11T10:00:00Z", "/pricing"),
        ],
    )
    window = {"start_date": "2025-07-01", "end_date": "2025-07-20"}
    first = await service.page_report("s", {**window, "touch_scope": "first"})
    converting = await service.page_report("s", {**window, "touch_scope": "converting"})
    assert first is not None
    assert converting is not None
    # Only v2's session is a first session inside the window.
    assert first.summary.total_users == 1
    assert [p.url for p in first.drop_off_performance] == ["https://example.com/pricing"]
    assert converting.summary.total_conversion_events == 1
    # Ordered by the conversion role first: /signup converted, /pricing only assisted.
    assert [p.url for p in converting.conversion_performance] == [
        "https://example.com/signup",
        "https://example.com/pricing",
    ]


async def test_page_report_with_nothing_in_the_window_is_none(
    service: AttributionService,
) -> None:
    await service.ingest("s", [pv("a1", "v1", "2025-05-10T10:00:00Z")])
    assert await service.page_report("s", {}) is None


async def test_rotating_keys_retires_the_old_ones_at_once(service: AttributionService) -> None:
    old = await service.create_site("A")
    new = await service.rotate_keys(old.site.site_id)
    assert new is not None
    assert new.site.site_id == old.site.site_id
    assert await service.site_for_api_key(old.api_key) is None
    assert await service.site_for_tracker_token(old.tracker_token) is None
    assert (await service.site_for_api_key(new.api_key)) == new.site
    assert (await service.site_for_tracker_token(new.tracker_token)) == new.site


async def test_rotating_keys_of_an_unknown_site_gives_none(service: AttributionService) -> None:
    assert await service.rotate_keys("site_nope") is None


async def test_sites_are_listed_oldest_first(service: AttributionService) -> None:
    a = await service.create_site("A")
    b = await service.create_site("B")
    # Both created at the fixed NOW: ties go by id.
    assert [s.site_id for s in await service.sites()] == sorted([a.site.site_id, b.site.site_id])


class LookupCountingStore(MemoryStore):
    """Counts key-hash lookups, to show which credentials never reach the store."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    async def site_by_api_key_hash(self, key_hash: str) -> Site | None:
        self.lookups += 1
        return await super().site_by_api_key_hash(key_hash)

    async def site_by_tracker_token_hash(self, token_hash: str) -> Site | None:
        self.lookups += 1
        return await super().site_by_tracker_token_hash(token_hash)


async def test_over_long_credentials_are_refused_without_a_lookup() -> None:
    store = LookupCountingStore()
    service = AttributionService(store, FixedClock(NOW), ListBots())
    await service.create_site("A")
    assert await service.site_for_api_key("k" * (MAX_CREDENTIAL_LENGTH + 1)) is None
    assert await service.site_for_tracker_token("t" * (MAX_CREDENTIAL_LENGTH + 1)) is None
    assert store.lookups == 0
    assert await service.site_for_api_key("k" * MAX_CREDENTIAL_LENGTH) is None
    assert store.lookups == 1


class GatedSnapshot(MemorySnapshot):
    """Report rows wait behind a gate, counting how many reports are inside at once."""

    def __init__(self, store: GatedStore, sessions: Any) -> None:
        super().__init__(sessions)
        self._store = store

    async def report_sessions(
        self, site_id: str, filters: SessionFilters, window: TimeWindow
    ) -> AsyncIterator[Sequence[ReportSession]]:
        store = self._store
        store.inside += 1
        store.most_inside = max(store.most_inside, store.inside)
        store.entered.set()
        await store.gate.wait()
        async for chunk in super().report_sessions(site_id, filters, window):
            yield chunk
        store.inside -= 1


class GatedStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.inside = 0
        self.most_inside = 0

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
        async with super().snapshot() as plain:
            yield GatedSnapshot(self, plain._sessions)


async def test_reports_beyond_the_concurrency_limit_wait_their_turn_and_all_answer() -> None:
    store = GatedStore()
    service = AttributionService(store, FixedClock(NOW), ListBots(), report_concurrency=2)
    await service.ingest("site-a", [pv("e-1", "v1", "2025-07-19T10:00:00Z")])
    query = {"start_date": "2025-07-01", "end_date": "2025-07-20"}

    reports = [asyncio.create_task(service.page_report("site-a", query)) for _ in range(5)]
    await store.entered.wait()
    for _ in range(10):
        await asyncio.sleep(0)
    assert store.inside == 2  # the other three are queued, not refused
    # A listing does not queue behind reports.
    assert (await service.list_sessions("site-a", {})).total_records == 1
    store.gate.set()
    done = await asyncio.gather(*reports)

    assert store.most_inside == 2
    assert all(r is not None and r.summary.total_sessions == 1 for r in done)


def test_a_report_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="report_concurrency"):
        AttributionService(MemoryStore(), FixedClock(NOW), ListBots(), report_concurrency=0)


class TickingClock:
    """Moves a second forward at every reading, and counts the readings: a use case that
    read it twice would decide with two different instants."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.readings = 0

    def now(self) -> datetime:
        self.readings += 1
        return self.start + timedelta(seconds=self.readings)


async def test_a_page_report_is_one_call_that_reads_the_clock_once() -> None:
    clock = TickingClock(NOW)
    service = AttributionService(MemoryStore(), clock, ListBots())
    await service.ingest("s", [pv("a1", "v1", "2025-07-19T10:00:00Z")])
    before = clock.readings
    report = await service.page_report("s", {})
    assert clock.readings - before == 1
    assert report is not None
    # The default window ends at the one reading, which also closed the session.
    assert report.time_frame.end == NOW + timedelta(seconds=before + 1)


async def test_a_listing_with_its_count_is_one_call_that_reads_the_clock_once() -> None:
    clock = TickingClock(NOW)
    service = AttributionService(MemoryStore(), clock, ListBots())
    await service.ingest("s", [pv("a1", "v1", "2025-07-19T10:00:00Z")])
    before = clock.readings
    page = await service.list_sessions("s", {})
    assert clock.readings - before == 1
    assert page.now == NOW + timedelta(seconds=before + 1)


async def test_a_refused_request_never_opens_a_snapshot_of_the_store() -> None:
    opened: list[object] = []

    class WatchedStore(MemoryStore):
        @asynccontextmanager
        async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
            opened.append(self)
            async with super().snapshot() as snapshot:
                yield snapshot

    service = AttributionService(WatchedStore(), FixedClock(NOW), ListBots())
    with pytest.raises(ParameterError):
        await service.list_sessions("s", {"page": 0})
    with pytest.raises(ParameterError):
        await service.page_report("s", {"touch_scope": "all"})
    async with service.reading() as reads:
        with pytest.raises(ParameterError, match="page_size: expected an integer from 1 to 200"):
            await reads.list_sessions("s", {}, page_size=201)
    assert opened == []


async def test_paging_by_position_reports_whether_more_follows_and_the_totals() -> None:
    service = AttributionService(MemoryStore(), FixedClock(NOW), ListBots())
    await service.ingest("s", [pv(f"e{i}", f"v{i}", f"2025-07-19T1{i}:00:00Z") for i in range(5)])
    async with service.reading() as reads:
        first = await reads.list_sessions("s", {}, page_size=2)
        assert (first.current_page, first.total_pages, first.has_next_page) == (1, 3, True)
        after = SessionKey.of(first.sessions[-1])
        second = await reads.list_sessions("s", {}, page_size=2, after=after)
        last = await reads.list_sessions(
            "s", {}, page_size=2, after=SessionKey.of(second.sessions[-1])
        )
    assert second.current_page is None
    assert (second.total_records, second.has_next_page) == (5, True)
    assert [s.visitor_id for s in first.sessions + second.sessions + last.sessions] == [
        "v4",
        "v3",
        "v2",
        "v1",
        "v0",
    ]
    assert last.has_next_page is False


async def test_a_credential_that_is_not_valid_unicode_finds_no_site(
    service: AttributionService,
) -> None:
    # What a web server makes of bytes that are not UTF-8: lone surrogates.
    await service.create_site("A")
    assert await service.site_for_api_key("ahk_\udcff\udcfe") is None
    assert await service.site_for_tracker_token("aht_\udcff") is None


JOURNEY_EVENTS = [
    pv("j1", "v1", "2025-07-10T10:00:00Z", "/?utm_source=google&utm_medium=cpc"),
    pv("j2", "v1", "2025-07-12T10:00:00Z", "/?utm_source=news&utm_medium=email"),
    {**pv("j3", "v1", "2025-07-12T10:02:00Z", "/buy"), "type": "conversion", "value": 40},
    pv("j4", "v2", "2025-07-11T10:00:00Z", "/", referrer="https://www.bing.com/"),
    pv("j5", "v2", "2025-07-15T10:00:00Z", "/"),
    {**pv("j6", "v2", "2025-07-15T10:01:00Z", "/buy"), "type": "conversion", "value": 15.5},
    pv("j7", "v3", "2025-07-16T10:00:00Z", "/", referrer="https://t.co/x"),
    {**pv("j8", "v3", "2025-07-16T10:09:00Z", "/buy"), "type": "conversion"},
    pv("j9", "v4", "2025-07-17T10:00:00Z", "/"),
]


@settings(max_examples=25, deadline=None)
@given(st.permutations(JOURNEY_EVENTS), st.integers(1, 4))
async def test_the_order_events_were_ingested_in_changes_no_attribution_figure(
    events: list[dict[str, Any]], batches: int
) -> None:
    window = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
    in_order = AttributionService(MemoryStore(), FixedClock(NOW), ListBots())
    await in_order.ingest("s", JOURNEY_EVENTS)
    shuffled = AttributionService(MemoryStore(), FixedClock(NOW), ListBots())
    for i in range(batches):
        await shuffled.ingest("s", events[i::batches])
    expected = await in_order.attribution("s", window)
    assert expected is not None
    assert expected.summary.conversions == 3
    assert await shuffled.attribution("s", window) == expected


async def test_the_collector_is_on_again_after_an_attribution_report() -> None:
    service = AttributionService(MemoryStore(), FixedClock(NOW), ListBots())
    await service.ingest("s", JOURNEY_EVENTS)
    assert gc.isenabled()

    report = await service.attribution("s", {"start_date": "2025-07-01", "end_date": "2025-07-31"})
    assert report is not None
    assert gc.isenabled()


@pytest.mark.parametrize("read", ["page_report", "timeseries", "breakdown"])
async def test_the_collector_is_on_again_after_a_page_report_or_an_aggregate(read: str) -> None:
    service = AttributionService(MemoryStore(), FixedClock(NOW), ListBots())
    await service.ingest("s", JOURNEY_EVENTS)
    window = {"start_date": "2025-07-01", "end_date": "2025-07-20"}

    async with service.reading() as reads:
        if read == "page_report":
            answer: object = await reads.page_report("s", window)
        elif read == "timeseries":
            answer = await reads.timeseries("s", {**window, "interval": "day"})
        else:
            answer = await reads.breakdown("s", {**window, "by": "source"})

    assert answer is not None
    assert gc.isenabled()


async def test_aggregates_read_one_snapshot_at_one_instant_and_refuse_before_reading() -> None:
    opened: list[object] = []

    class WatchedStore(MemoryStore):
        @asynccontextmanager
        async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
            opened.append(self)
            async with super().snapshot() as snapshot:
                yield snapshot

    clock = TickingClock(NOW)
    service = AttributionService(WatchedStore(), clock, ListBots())
    await service.ingest("s", JOURNEY_EVENTS)
    before = clock.readings
    async with service.reading() as reads:
        with pytest.raises(ParameterError, match="time_zone"):
            await reads.timeseries("s", {"time_zone": "Nowhere/Land"})
        with pytest.raises(ParameterError, match="limit"):
            await reads.breakdown("s", {"by": "channel", "limit": 0})
        assert opened == []
        series = await reads.timeseries("s", {"interval": "week"})
        channels = await reads.breakdown("s", {"by": "channel"})

    assert clock.readings - before == 1
    assert len(opened) == 1
    # The default window ends at the one reading.
    assert series.time_frame.end == channels.time_frame.end == NOW + timedelta(seconds=before + 1)
    assert sum(b.sessions for b in series.buckets) == sum(r.sessions for r in channels.rows) == 6


# --- privacy (docs/privacy.md) -----------------------------------------------------------
async def test_a_visitor_record_holds_its_events_in_time_order_and_none_when_unknown(
    service: AttributionService,
) -> None:
    new = await service.create_site("Acme")
    site_id = new.site.site_id
    await service.ingest(
        site_id,
        [pv("e-2", "v1", "2025-07-15T10:05:00Z", "/b"), pv("e-1", "v1", "2025-07-15T10:00:00Z")],
    )

    record = await service.visitor_record(site_id, "v1")

    assert record is not None
    assert [e.event_id for e in record.events] == ["e-1", "e-2"]
    assert len(record.sessions) == 1
    assert record.now == NOW
    assert await service.visitor_record(site_id, "v2") is None


@pytest.mark.parametrize("email", [None, "", "   ", 7])
async def test_an_erasure_by_email_needs_an_address(
    service: AttributionService, email: object
) -> None:
    with pytest.raises(ParameterError, match="email: expected a non-empty string"):
        await service.erase_email("site", email)


async def test_a_purge_needs_a_retention_of_a_day_or_more(service: AttributionService) -> None:
    with pytest.raises(ValueError, match="retention_days: expected a whole number >= 1"):
        await service.purge(0)


async def test_purging_all_goes_batch_after_batch_until_nothing_is_left(
    service: AttributionService,
) -> None:
    new = await service.create_site("Acme")
    old = [pv(f"e-{i}", f"v{i}", "2025-06-01T10:00:00Z") for i in range(5)]
    recent = [pv("e-new", "v-new", "2025-07-19T10:00:00Z")]
    await service.ingest(new.site.site_id, [*old, *recent])

    purged = await service.purge_all(30, batch=2)

    assert (purged.visitors, purged.events) == (5, 5)
    assert await service.store.visitor_events(new.site.site_id, "v-new") != []


async def test_breakdowns_that_share_read_the_window_once_and_answer_as_alone() -> None:
    reads_of_rows: list[object] = []

    class CountingSnapshot(MemorySnapshot):
        def aggregate_sessions(self, *args: Any, **kwargs: Any) -> Any:
            reads_of_rows.append(args)
            return super().aggregate_sessions(*args, **kwargs)

    class CountingStore(MemoryStore):
        @asynccontextmanager
        async def snapshot(self) -> AsyncIterator[MemorySnapshot]:
            async with super().snapshot() as plain:
                yield CountingSnapshot(plain._sessions)

    service = AttributionService(CountingStore(), FixedClock(NOW), ListBots())
    await service.ingest("s", JOURNEY_EVENTS)
    window = {"start_date": "2025-07-01", "end_date": "2025-07-20"}
    dimensions = ("source", "medium", "channel", "landing_page", "campaign")
    async with service.reading() as reads:
        alone = [await reads.breakdown("s", {**window, "by": by}) for by in dimensions]
    assert len(reads_of_rows) == len(dimensions)
    reads_of_rows.clear()
    async with service.reading() as reads:
        together = [
            await reads.breakdown("s", {**window, "by": by}, shared=True) for by in dimensions
        ]
    assert len(reads_of_rows) == 1
    assert together == alone


class PendingStore(MemoryStore):
    """A store with ``pending`` visitors left to repair, handed out ``visitors`` at a time."""

    def __init__(self, pending: int) -> None:
        super().__init__()
        self.pending = pending
        self.calls: list[int] = []
        self.timeouts: list[timedelta] = []

    async def repair_pending(self, recut: Any, *, visitors: int) -> int:
        self.calls.append(visitors)
        done = min(visitors, self.pending)
        self.pending -= done
        return done


async def test_repairing_pending_visitors_goes_on_batch_after_batch_until_a_batch_is_short() -> (
    None
):
    store = PendingStore(pending=5)
    service = AttributionService(store, FixedClock(NOW), ListBots())

    assert await service.repair_pending(batch=2) == 5
    assert store.calls == [2, 2, 2]
    assert await service.repair_pending(batch=2) == 0
