"""The ``Store`` contract, run against every adapter (see ``conftest.STORE_FACTORIES``).

Sessions are identified in expectations by ``(visitor_id, start)`` rather than by their
session ids, which are a hash the test would otherwise have to recompute.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from adapters.clock import FixedClock
from adapters.memory_store import MemoryStore
from domain.aggregates import (
    AggregateConversion,
    AggregateSession,
    aggregate_session,
    in_row_order,
)
from domain.events import parse_event
from domain.model import Event, Session, Site, to_micros
from domain.multi_touch import JourneyConversion, JourneySession, journey_session
from domain.page_report import (
    ReportConversion,
    ReportSession,
    report_conversions,
    report_session,
    with_ordinals,
)
from domain.ports import DuplicateSiteError, SessionKey, Store, StoreSnapshot
from domain.queries import SessionFilters, TimeWindow
from domain.services import AttributionService
from domain.sessionization import sessionize
from tests.unit.domain.test_services import JOURNEY_EVENTS, ListBots
from tests.unit.domain.test_services import NOW as SERVICE_NOW

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)
RECUT = partial(sessionize, timeout=TIMEOUT)
SITE_A = "site-a"
SITE_B = "site-b"
HOME = "https://example.com"
PRICING = "https://example.com/pricing"
BLOG = "https://example.com/blog"
EVERYTHING = SessionFilters()
ALL_TIME = TimeWindow()

SessionId = tuple[str, str]  # (visitor_id, start as ISO 8601)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def pageview(
    event_id: str, visitor: str, timestamp: str, url: str, *, site: str = SITE_A, **extra: str
) -> Event:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": url,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        **extra,
    }
    return parse_event(raw, site_id=site, now=NOW)


def conversion(
    event_id: str,
    visitor: str,
    timestamp: str,
    url: str,
    *,
    site: str = SITE_A,
    value: float | None = None,
) -> Event:
    raw: dict[str, object] = {
        "type": "conversion",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": url,
        "email": "ann@example.org",
        "meta_type": "hubspot_form",
        "meta_id": "form-7",
    }
    if value is not None:
        raw["value"] = value
    return parse_event(raw, site_id=site, now=NOW)


def exit_(event_id: str, visitor: str, timestamp: str, url: str, *, site: str = SITE_A) -> Event:
    raw = {
        "type": "exit",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": url,
    }
    return parse_event(raw, site_id=site, now=NOW)


def ids(sessions: Sequence[Session]) -> list[SessionId]:
    return [(s.visitor_id, s.start.isoformat()) for s in sessions]


def by_identity(sessions: Sequence[Session]) -> set[Session]:
    return set(sessions)


async def all_sessions(store: Store, site_id: str = SITE_A) -> list[Session]:
    return await store.list_sessions(site_id, EVERYTHING, ALL_TIME, limit=10_000)


async def _rows(
    snapshot: StoreSnapshot, filters: SessionFilters, window: TimeWindow, site_id: str
) -> list[ReportSession]:
    return [
        ReportSession(*row)
        async for chunk in snapshot.report_sessions(site_id, filters, window)
        for row in chunk
    ]


async def _with_urls(snapshot: StoreSnapshot, rows: list[ReportSession]) -> list[ReportSession]:
    """Rows with every page key replaced by its URL (keys are each store's own)."""
    keys = {k for r in rows for k in (r.landing, r.exit, r.exit_previous)}
    keys |= {k for r in rows for c in r.conversions or () for k in (c.page, c.previous_page)}
    urls = await snapshot.page_urls(keys)

    def conversions(row: ReportSession) -> tuple[ReportConversion, ...] | None:
        if not row.conversions:
            return None
        return tuple(
            c._replace(page=urls[c.page], previous_page=urls[c.previous_page])
            for c in row.conversions
        )

    return [
        r._replace(
            landing=urls[r.landing],
            exit=urls[r.exit],
            exit_previous=urls[r.exit_previous],
            conversions=conversions(r),
        )
        for r in rows
    ]


def _anonymous(rows: Sequence[ReportSession]) -> list[tuple[object, ...]]:
    """Rows without their visitor key, sorted: comparable across stores."""
    return sorted((tuple(r[1:]) for r in rows), key=repr)


def _same_visitor_grouping(rows: Sequence[ReportSession], sessions: Sequence[Session]) -> bool:
    """The rows' visitor keys group the rows as the sessions' visitor ids do."""
    by_key: dict[object, list[int]] = {}
    for r in rows:
        by_key.setdefault(r.visitor, []).append(r.ordinal)
    by_id: dict[str, list[int]] = {}
    for session, ordinal in with_ordinals(sessions):
        by_id.setdefault(session.visitor_id, []).append(ordinal)
    return sorted(sorted(v) for v in by_key.values()) == sorted(sorted(v) for v in by_id.values())


async def report_rows(
    store: Store,
    filters: SessionFilters = EVERYTHING,
    window: TimeWindow = ALL_TIME,
    site_id: str = SITE_A,
) -> list[ReportSession]:
    """The report rows of the matching sessions, page keys turned into URLs."""
    async with store.snapshot() as snapshot:
        return await _with_urls(snapshot, await _rows(snapshot, filters, window, site_id))


def expected_rows(history: Sequence[Session], selected: Sequence[Session]) -> list[ReportSession]:
    """The rows ``selected`` must give, numbered within ``history`` (their visitors' all)."""
    chosen = {s.session_id for s in selected}
    return [report_session(s, n) for s, n in with_ordinals(history) if s.session_id in chosen]


# --- health --------------------------------------------------------------------------
async def test_an_open_store_answers_a_ping(store: Store) -> None:
    await store.ping()  # returns, having read something, without raising
    await store.add_site(site("s1", "one"))
    await store.ping()


async def test_a_closed_store_fails_its_ping(store: Store) -> None:
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.ping()


# --- sites ---------------------------------------------------------------------------
def site(site_id: str, key: str) -> Site:
    return Site(
        site_id=site_id,
        name=f"Site {site_id}",
        api_key_hash=f"api-{key}",
        tracker_token_hash=f"tracker-{key}",
        created_at=datetime(2025, 7, 1, 8, 30, 15, 123456, tzinfo=UTC),
    )


async def test_an_added_site_is_found_by_id_and_by_both_key_hashes(store: Store) -> None:
    first, second = site("s1", "one"), site("s2", "two")
    await store.add_site(first)
    await store.add_site(second)

    assert await store.get_site("s1") == first
    assert await store.site_by_api_key_hash("api-two") == second
    assert await store.site_by_tracker_token_hash("tracker-one") == first


async def test_unknown_ids_and_hashes_find_no_site(store: Store) -> None:
    await store.add_site(site("s1", "one"))

    assert await store.get_site("s9") is None
    assert await store.site_by_api_key_hash("api-nine") is None
    # A hash of the other kind must not match either.
    assert await store.site_by_api_key_hash("tracker-one") is None
    assert await store.site_by_tracker_token_hash("api-one") is None


async def test_adding_a_site_with_a_taken_id_raises_duplicate_site_error(store: Store) -> None:
    await store.add_site(site("s1", "one"))

    with pytest.raises(DuplicateSiteError):
        await store.add_site(site("s1", "other"))
    assert await store.site_by_api_key_hash("api-other") is None


async def test_sites_are_listed_oldest_first_then_by_id(store: Store) -> None:
    late = replace(site("s0", "zero"), created_at=datetime(2025, 7, 2, tzinfo=UTC))
    for added in (site("s2", "two"), late, site("s1", "one")):
        await store.add_site(added)

    assert [s.site_id for s in await store.list_sites()] == ["s1", "s2", "s0"]
    assert await store.list_sites() == [site("s1", "one"), site("s2", "two"), late]


async def test_replacing_site_keys_retires_the_old_hashes(store: Store) -> None:
    await store.add_site(site("s1", "one"))
    await store.add_site(site("s2", "two"))

    updated = await store.replace_site_keys("s1", "api-new", "tracker-new")

    assert updated == replace(
        site("s1", "one"), api_key_hash="api-new", tracker_token_hash="tracker-new"
    )
    assert await store.get_site("s1") == updated
    assert await store.site_by_api_key_hash("api-new") == updated
    assert await store.site_by_tracker_token_hash("tracker-new") == updated
    assert await store.site_by_api_key_hash("api-one") is None
    assert await store.site_by_tracker_token_hash("tracker-one") is None
    assert await store.get_site("s2") == site("s2", "two")


async def test_replacing_keys_of_an_unknown_site_changes_nothing(store: Store) -> None:
    await store.add_site(site("s1", "one"))

    assert await store.replace_site_keys("nope", "api-new", "tracker-new") is None
    assert await store.site_by_api_key_hash("api-new") is None
    assert await store.list_sites() == [site("s1", "one")]


# --- ingestion -----------------------------------------------------------------------
async def test_ingesting_the_same_batch_twice_stores_each_event_once(store: Store) -> None:
    batch = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z", PRICING),
        conversion("e-2", "v1", "2025-07-15T10:04:00Z", "https://example.com/signup"),
        exit_("e-3", "v1", "2025-07-15T10:06:00Z", "https://example.com/thank-you"),
    ]

    first = await store.ingest(SITE_A, batch, RECUT)
    second = await store.ingest(SITE_A, batch, RECUT)

    assert (first.accepted, first.duplicates) == (3, 0)
    assert (second.accepted, second.duplicates) == (0, 3)
    assert sorted(e.event_id for e in await store.visitor_events(SITE_A, "v1")) == [
        "e-1",
        "e-2",
        "e-3",
    ]
    assert len(await all_sessions(store)) == 1


async def test_a_repeated_event_id_inside_one_batch_is_a_duplicate_and_the_first_is_kept(
    store: Store,
) -> None:
    original = pageview("e-1", "v1", "2025-07-15T10:00:00Z", PRICING)
    repeat = pageview("e-1", "v1", "2025-07-15T10:05:00Z", BLOG)
    other = pageview("e-2", "v1", "2025-07-15T10:01:00Z", HOME)

    stored = await store.ingest(SITE_A, [original, other, repeat], RECUT)

    assert (stored.accepted, stored.duplicates) == (2, 1)
    events = await store.visitor_events(SITE_A, "v1")
    assert sorted(events, key=lambda e: e.event_id) == [original, other]


async def test_concurrent_overlapping_ingests_accept_each_event_exactly_once(
    store: Store,
) -> None:
    # 60 events of 12 visitors; five batches of 30 overlapping windows of them, so most
    # events are sent two or three times at once.
    events = [
        pageview(f"e-{i}", f"v{i % 12}", f"2025-07-15T10:{i % 60:02d}:00Z", PRICING)
        for i in range(60)
    ]
    batches = [events[i * 8 : i * 8 + 30] for i in range(5)]  # 0-30, 8-38, ..., 32-62
    sent = sum(len(b) for b in batches)  # 30 + 30 + 30 + 30 + 28 = 148

    results = await asyncio.gather(*(store.ingest(SITE_A, b, RECUT) for b in batches))

    assert sum(r.accepted for r in results) == 60
    assert sum(r.duplicates for r in results) == sent - 60
    stored = [e for v in range(12) for e in await store.visitor_events(SITE_A, f"v{v}")]
    assert sorted(e.event_id for e in stored) == sorted(e.event_id for e in events)
    assert by_identity(await all_sessions(store)) == by_identity(sessionize(events))


async def _dropped(store: Store, site_id: str) -> list[tuple[str, int, datetime]]:
    async with store.snapshot() as snapshot:
        return [(d.reason, d.events, d.last_seen) for d in await snapshot.dropped_bots(site_id)]


async def test_dropped_bot_counts_add_up_per_site_and_reason(store: Store) -> None:
    later = NOW + timedelta(seconds=1, microseconds=250)
    await store.count_dropped_bots(SITE_A, {"Googlebot": 2, "Headless": 1}, NOW)
    await store.count_dropped_bots(SITE_A, {"Headless": 3}, later)
    await store.count_dropped_bots(SITE_B, {"curl": 1}, NOW)

    # Most events first; each reason's last_seen its own, to the microsecond.
    assert await _dropped(store, SITE_A) == [("Headless", 4, later), ("Googlebot", 2, NOW)]
    assert await _dropped(store, SITE_B) == [("curl", 1, NOW)]
    assert await _dropped(store, "site-without-bots") == []


async def test_dropped_bots_keep_the_latest_last_seen_whatever_the_order(store: Store) -> None:
    earlier = NOW - timedelta(hours=1)
    await store.count_dropped_bots(SITE_A, {"Googlebot": 1}, NOW)
    await store.count_dropped_bots(SITE_A, {"Googlebot": 1}, earlier)
    assert await _dropped(store, SITE_A) == [("Googlebot", 2, NOW)]


async def test_dropped_bot_reasons_with_equal_counts_are_ordered_by_reason(store: Store) -> None:
    await store.count_dropped_bots(SITE_A, {"curl": 1, "Bingbot": 1, "Googlebot": 1}, NOW)
    assert [reason for reason, _, _ in await _dropped(store, SITE_A)] == [
        "Bingbot",
        "Googlebot",
        "curl",
    ]


async def test_concurrent_dropped_bot_counts_converge_to_their_sum(store: Store) -> None:
    # 40 writers at once, half of them racing to create each reason's first count.
    calls = [
        store.count_dropped_bots(
            SITE_A, {f"bot-{i % 2}": 1, "Headless": i + 1}, NOW + timedelta(seconds=i)
        )
        for i in range(40)
    ]
    await asyncio.gather(*calls)
    last = NOW + timedelta(seconds=39)
    assert await _dropped(store, SITE_A) == [
        ("Headless", sum(range(1, 41)), last),
        ("bot-0", 20, NOW + timedelta(seconds=38)),
        ("bot-1", 20, last),
    ]


async def test_visitor_events_returns_every_stored_event_of_that_visitor_only(
    store: Store,
) -> None:
    mine = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z", PRICING, referrer="https://www.google.com/"),
        conversion("e-2", "v1", "2025-07-15T10:04:00Z", "https://example.com/signup"),
    ]
    later = [exit_("e-4", "v1", "2025-07-15T10:09:00Z", PRICING)]
    theirs = [pageview("e-3", "v2", "2025-07-15T10:02:00Z", BLOG)]
    await store.ingest(SITE_A, mine + theirs, RECUT)
    await store.ingest(SITE_A, later, RECUT)

    events = await store.visitor_events(SITE_A, "v1")

    # Stored events come back as the same values, every field included.
    assert sorted(events, key=lambda e: e.event_id) == mine + later
    assert await store.visitor_events(SITE_A, "v9") == []


async def test_conversion_values_are_kept_in_the_events_and_in_the_sessions(
    store: Store,
) -> None:
    events = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z", PRICING),
        conversion("e-2", "v1", "2025-07-15T10:04:00Z", PRICING, value=49.5),
        conversion("e-3", "v1", "2025-07-15T10:05:00Z", PRICING),
        conversion("e-4", "v1", "2025-07-15T10:06:00Z", PRICING, value=0),
    ]
    await store.ingest(SITE_A, events, RECUT)

    stored = {e.event_id: e.value for e in await store.visitor_events(SITE_A, "v1")}
    assert stored == {"e-1": None, "e-2": 49.5, "e-3": None, "e-4": 0.0}
    [session] = await all_sessions(store)
    assert [(c.event_id, c.value) for c in session.conversions] == [
        ("e-2", 49.5),
        ("e-3", None),
        ("e-4", 0.0),
    ]


async def test_sessions_are_materialized_as_the_recut_of_the_visitors_events(
    store: Store,
) -> None:
    events = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z", f"{PRICING}?utm_source=google"),
        pageview("e-2", "v1", "2025-07-15T10:03:00Z", BLOG),
        conversion("e-3", "v1", "2025-07-15T10:04:00Z", "https://example.com/signup"),
        exit_("e-4", "v1", "2025-07-15T10:06:00Z", "https://example.com/signup"),
        pageview("e-5", "v1", "2025-07-15T14:00:00Z", HOME),
        pageview("e-6", "v2", "2025-07-15T11:00:00Z", HOME, referrer="https://t.co/x"),
    ]

    await store.ingest(SITE_A, events, RECUT)

    stored = await all_sessions(store)
    assert by_identity(stored) == by_identity(sessionize(events, timeout=TIMEOUT))
    # v1: 10:00-10:06 and 14:00 (a 3h54m gap); v2: 11:00.
    assert ids(stored) == [
        ("v1", "2025-07-15T14:00:00+00:00"),
        ("v2", "2025-07-15T11:00:00+00:00"),
        ("v1", "2025-07-15T10:00:00+00:00"),
    ]
    first_visit = stored[2]
    assert [p.url for p in first_visit.path] == [
        PRICING,
        BLOG,
        "https://example.com/signup",
    ]
    assert first_visit.conversion is not None
    assert first_visit.conversion.previous_page == BLOG
    assert first_visit.conversion.email == "ann@example.org"
    assert first_visit.is_last is False
    assert stored[0].is_last is True


async def test_a_late_event_merges_two_sessions_into_one(store: Store) -> None:
    early = pageview("e-1", "v1", "2025-07-15T10:00:00Z", HOME)
    late_arrival = pageview("e-3", "v1", "2025-07-15T10:20:00Z", PRICING)
    later = pageview("e-2", "v1", "2025-07-15T10:40:00Z", BLOG)
    await store.ingest(SITE_A, [early, later], RECUT)
    assert len(await all_sessions(store)) == 2  # 40 minutes apart

    await store.ingest(SITE_A, [late_arrival], RECUT)

    # Gaps are now 20 and 20 minutes: one session from 10:00, the two old ones gone.
    merged = await all_sessions(store)
    assert ids(merged) == [("v1", "2025-07-15T10:00:00+00:00")]
    assert [p.url for p in merged[0].path] == [HOME, PRICING, BLOG]
    assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 1


async def test_after_ingests_that_succeeded_there_is_nothing_to_repair(store: Store) -> None:
    events = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z", HOME),
        pageview("e-2", "v2", "2025-07-15T11:00:00Z", PRICING),
    ]
    await store.ingest(SITE_A, events[:1], RECUT)
    await store.ingest(SITE_A, events, RECUT)
    before = await all_sessions(store)

    assert await store.repair_pending(RECUT, visitors=100) == 0
    assert (
        await all_sessions(store)
        == before
        == sorted(sessionize(events), key=lambda s: (-s.start.timestamp(), s.visitor_id))
    )


async def test_a_late_campaign_touch_splits_a_session(store: Store) -> None:
    first = pageview("e-1", "v1", "2025-07-15T10:00:00Z", HOME)
    second = pageview("e-2", "v1", "2025-07-15T10:20:00Z", PRICING)
    await store.ingest(SITE_A, [first, second], RECUT)
    assert len(await all_sessions(store)) == 1

    touch = pageview(
        "e-3", "v1", "2025-07-15T10:10:00Z", f"{BLOG}?utm_source=newsletter&utm_medium=email"
    )
    await store.ingest(SITE_A, [touch], RECUT)

    # The touch at 10:10 starts a session that the internal pageview at 10:20 continues.
    split = await all_sessions(store)
    assert ids(split) == [
        ("v1", "2025-07-15T10:10:00+00:00"),
        ("v1", "2025-07-15T10:00:00+00:00"),
    ]
    assert split[0].attribution.source == "newsletter"
    assert [p.url for p in split[0].path] == [BLOG, PRICING]
    assert by_identity(split) == by_identity(sessionize([first, second, touch], timeout=TIMEOUT))


async def test_a_failing_recut_leaves_nothing_written(store: Store) -> None:
    await store.ingest(SITE_A, [pageview("e-1", "v1", "2025-07-15T10:00:00Z", HOME)], RECUT)
    before = await all_sessions(store)

    def failing_recut(events: Sequence[Event]) -> list[Session]:
        raise RuntimeError("recut failed")

    batch = [
        pageview("e-2", "v1", "2025-07-15T10:10:00Z", PRICING),
        pageview("e-3", "v2", "2025-07-15T10:10:00Z", PRICING),
    ]
    with pytest.raises(RuntimeError, match="recut failed"):
        await store.ingest(SITE_A, batch, failing_recut)

    assert [e.event_id for e in await store.visitor_events(SITE_A, "v1")] == ["e-1"]
    assert await store.visitor_events(SITE_A, "v2") == []
    assert await all_sessions(store) == before
    # Nothing was half-stored: the same batch is accepted in full afterwards.
    retried = await store.ingest(SITE_A, batch, RECUT)
    assert (retried.accepted, retried.duplicates) == (2, 0)


# --- sites are isolated --------------------------------------------------------------
async def test_the_same_event_id_on_two_sites_is_two_events(store: Store) -> None:
    on_a = pageview("e-1", "v1", "2025-07-15T10:00:00Z", HOME, site=SITE_A)
    on_b = pageview("e-1", "v1", "2025-07-15T11:00:00Z", PRICING, site=SITE_B)

    stored_a = await store.ingest(SITE_A, [on_a], RECUT)
    stored_b = await store.ingest(SITE_B, [on_b], RECUT)

    assert (stored_a.accepted, stored_b.accepted) == (1, 1)
    assert await store.visitor_events(SITE_A, "v1") == [on_a]
    assert await store.visitor_events(SITE_B, "v1") == [on_b]


async def test_reads_never_cross_sites(store: Store) -> None:
    await store.ingest(
        SITE_A, [pageview("a-1", "v1", "2025-07-15T10:00:00Z", HOME, site=SITE_A)], RECUT
    )
    b_events = [
        pageview("b-1", "v1", "2025-07-15T12:00:00Z", PRICING, site=SITE_B),
        pageview("b-2", "v2", "2025-07-15T13:00:00Z", PRICING, site=SITE_B),
    ]
    await store.ingest(SITE_B, b_events, RECUT)

    assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 1
    assert ids(await all_sessions(store, SITE_A)) == [("v1", "2025-07-15T10:00:00+00:00")]
    rows = await report_rows(store)
    assert [(r.ordinal, r.landing) for r in rows] == [(0, HOME)]
    async with store.snapshot() as snapshot:
        assert [
            c
            async for chunk in snapshot.visitor_conversions(SITE_A, EVERYTHING, ALL_TIME)
            for c in chunk
        ] == []
    assert await store.count_sessions("site-c", EVERYTHING, ALL_TIME) == 0
    assert await store.visitor_events(SITE_A, "v2") == []


# --- reads: filters, windows, ordering, pagination -------------------------------------
V5_LATE = ("v5", "2025-07-05T23:59:59+00:00")
V5_EARLY = ("v5", "2025-07-03T12:00:00+00:00")
V4 = ("v4", "2025-07-03T00:00:00+00:00")
V0 = ("v0", "2025-07-02T09:00:00+00:00")
V1 = ("v1", "2025-07-01T09:00:00+00:00")
V2 = ("v2", "2025-07-02T09:00:00+00:00")
V3 = ("v3", "2025-07-02T09:00:00+00:00")
V6 = ("v6", "2025-07-04T08:00:00+00:00")  # two sessions with this start

CATALOGUE = [
    pageview(
        "c-1",
        "v1",
        "2025-07-01T09:00:00Z",
        f"{PRICING}?utm_source=google&utm_medium=cpc&utm_campaign=summer",
    ),
    pageview(
        "c-2",
        "v2",
        "2025-07-02T09:00:00Z",
        f"{HOME}/?utm_source=newsletter&utm_medium=email&utm_campaign=summer"
        "&utm_content=hero&utm_term=shoes",
    ),
    # Same start as v2 and v0: the order falls back on visitor_id.
    pageview("c-3", "v3", "2025-07-02T09:00:00Z", f"{PRICING}/?utm_source=Google&utm_medium=cpc"),
    pageview("c-0", "v0", "2025-07-02T09:00:00Z", PRICING),
    pageview("c-4", "v4", "2025-07-03T00:00:00Z", BLOG),
    pageview("c-5", "v5", "2025-07-03T12:00:00Z", BLOG),
    pageview(
        "c-6",
        "v5",
        "2025-07-05T23:59:59Z",
        f"{PRICING}?utm_source=google&utm_medium=cpc&utm_campaign=winter",
    ),
    # Two touches of one visitor at one instant: two sessions with the same start.
    pageview("c-7", "v6", "2025-07-04T08:00:00Z", f"{HOME}?utm_source=alpha&utm_medium=display"),
    pageview("c-8", "v6", "2025-07-04T08:00:00Z", f"{HOME}?utm_source=beta&utm_medium=display"),
]


@pytest.fixture
async def catalogue(store: Store) -> Store:
    await store.ingest(SITE_A, CATALOGUE[:4], RECUT)
    await store.ingest(SITE_A, CATALOGUE[4:], RECUT)
    # Noise on another site that matches every filter below.
    await store.ingest(
        SITE_B,
        [
            pageview(e.event_id, e.visitor_id, e.timestamp.isoformat(), e.url, site=SITE_B)
            for e in CATALOGUE
        ],
        RECUT,
    )
    return store


async def test_sessions_are_listed_newest_first_then_by_visitor_then_by_session_id(
    catalogue: Store,
) -> None:
    listed = await all_sessions(catalogue)

    assert ids(listed) == [V5_LATE, V6, V6, V5_EARLY, V4, V0, V2, V3, V1]
    v6_sessions = [s.session_id for s in listed[1:3]]
    assert v6_sessions == sorted(v6_sessions)
    assert v6_sessions[0] != v6_sessions[1]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(SessionFilters(source="google"), [V5_LATE, V1], id="source"),
        # "Google" (v3) differs in case: exact matches only.
        pytest.param(SessionFilters(source="Google"), [V3], id="source-case"),
        pytest.param(SessionFilters(medium="cpc"), [V5_LATE, V3, V1], id="medium"),
        pytest.param(SessionFilters(medium="none"), [V5_EARLY, V4, V0], id="medium-none"),
        pytest.param(SessionFilters(campaign="summer"), [V2, V1], id="campaign"),
        pytest.param(SessionFilters(content="hero"), [V2], id="content"),
        pytest.param(SessionFilters(term="shoes"), [V2], id="term"),
        pytest.param(SessionFilters(landing_page=PRICING), [V5_LATE, V0, V3, V1], id="landing"),
        pytest.param(SessionFilters(landing_page=HOME), [V6, V6, V2], id="landing-root"),
        pytest.param(
            SessionFilters(source="google", medium="cpc", campaign="summer"), [V1], id="combined"
        ),
        pytest.param(
            SessionFilters(source="google", landing_page=PRICING, campaign="winter"),
            [V5_LATE],
            id="combined-landing",
        ),
        pytest.param(SessionFilters(source="google", medium="email"), [], id="contradiction"),
        pytest.param(SessionFilters(campaign="nope"), [], id="no-match"),
    ],
)
async def test_each_filter_alone_and_combined_selects_exact_matches(
    catalogue: Store, filters: SessionFilters, expected: list[SessionId]
) -> None:
    assert await catalogue.count_sessions(SITE_A, filters, ALL_TIME) == len(expected)
    listed = await catalogue.list_sessions(SITE_A, filters, ALL_TIME, limit=100)
    assert ids(listed) == expected
    history = await all_sessions(catalogue)
    rows = await report_rows(catalogue, filters)
    assert _anonymous(rows) == _anonymous(expected_rows(history, listed))


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        pytest.param(
            TimeWindow(at("2025-07-03T00:00:00"), at("2025-07-05T23:59:59")),
            [V5_LATE, V6, V6, V5_EARLY, V4],
            id="both-bounds-inclusive",
        ),
        pytest.param(
            TimeWindow(at("2025-07-03T00:00:00.000001"), at("2025-07-05T23:59:58.999999")),
            [V6, V6, V5_EARLY],
            id="one-microsecond-inside",
        ),
        pytest.param(TimeWindow(start=at("2025-07-04T00:00:00")), [V5_LATE, V6, V6], id="start"),
        pytest.param(TimeWindow(end=at("2025-07-02T09:00:00")), [V0, V2, V3, V1], id="end"),
        pytest.param(
            TimeWindow(at("2025-08-01T00:00:00"), at("2025-08-31T00:00:00")), [], id="empty"
        ),
    ],
)
async def test_a_window_selects_sessions_by_start_inclusive_at_both_ends(
    catalogue: Store, window: TimeWindow, expected: list[SessionId]
) -> None:
    assert await catalogue.count_sessions(SITE_A, EVERYTHING, window) == len(expected)
    listed = await catalogue.list_sessions(SITE_A, EVERYTHING, window, limit=100)
    assert ids(listed) == expected
    history = await all_sessions(catalogue)
    rows = await report_rows(catalogue, window=window)
    assert _anonymous(rows) == _anonymous(expected_rows(history, listed))


async def test_a_filter_and_a_window_combine(catalogue: Store) -> None:
    window = TimeWindow(at("2025-07-02T00:00:00"), at("2025-07-31T00:00:00"))
    filters = SessionFilters(landing_page=PRICING)

    assert await catalogue.count_sessions(SITE_A, filters, window) == 3
    listed = await catalogue.list_sessions(SITE_A, filters, window, limit=100)
    assert ids(listed) == [V5_LATE, V0, V3]


async def test_offset_pages_neither_lose_nor_repeat_a_session(catalogue: Store) -> None:
    everything = await all_sessions(catalogue)
    pages: list[list[Session]] = []
    offset = 0
    while page := await catalogue.list_sessions(
        SITE_A, EVERYTHING, ALL_TIME, limit=2, offset=offset
    ):
        pages.append(page)
        offset += 2

    assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
    assert [s for p in pages for s in p] == everything
    assert await catalogue.list_sessions(SITE_A, EVERYTHING, ALL_TIME, limit=2, offset=9) == []


async def test_keyset_pages_resume_strictly_after_the_key(catalogue: Store) -> None:
    everything = await all_sessions(catalogue)
    collected: list[Session] = []
    after: SessionKey | None = None
    # Pages of 2 cut between the two v6 sessions (same start and visitor) and between
    # v0 and v2 (same start), so both tie-breaks are exercised.
    while page := await catalogue.list_sessions(SITE_A, EVERYTHING, ALL_TIME, limit=2, after=after):
        collected.extend(page)
        after = SessionKey.of(page[-1])

    assert collected == everything
    v4_key = SessionKey.of(everything[4])
    resumed = await catalogue.list_sessions(SITE_A, EVERYTHING, ALL_TIME, limit=100, after=v4_key)
    assert ids(resumed) == [V0, V2, V3, V1]


async def test_keyset_pagination_respects_filters_and_windows(catalogue: Store) -> None:
    filters = SessionFilters(landing_page=PRICING)
    window = TimeWindow(end=at("2025-07-04T00:00:00"))
    first = await catalogue.list_sessions(SITE_A, filters, window, limit=1)
    rest = await catalogue.list_sessions(
        SITE_A, filters, window, limit=10, after=SessionKey.of(first[0])
    )

    assert ids(first) == [V0]
    assert ids(rest) == [V3, V1]


async def test_a_limit_caps_the_listing(catalogue: Store) -> None:
    listed = await catalogue.list_sessions(SITE_A, EVERYTHING, ALL_TIME, limit=3, offset=1)

    assert ids(listed) == [V6, V6, V5_EARLY]


async def test_report_rows_are_the_matching_sessions_numbered_in_their_visitors_history(
    catalogue: Store,
) -> None:
    window = TimeWindow(at("2025-07-02T09:00:00"), at("2025-07-04T08:00:00"))
    filters = SessionFilters(medium="none")

    rows = await report_rows(catalogue, filters, window)

    history = await all_sessions(catalogue)
    listed = await catalogue.list_sessions(SITE_A, filters, window, limit=100)
    assert sorted(ids(listed)) == sorted([V5_EARLY, V4, V0])
    assert _anonymous(rows) == _anonymous(expected_rows(history, listed))
    assert len({r.visitor for r in rows}) == len({s.visitor_id for s in listed})


async def test_a_report_stream_can_be_abandoned_and_the_store_still_serves(
    catalogue: Store,
) -> None:
    async with catalogue.snapshot() as snapshot:
        stream = snapshot.report_sessions(SITE_A, EVERYTHING, ALL_TIME)
        first = await anext(aiter(stream))
        assert first
        await stream.aclose()  # type: ignore[attr-defined]  # every store yields a generator

    assert await catalogue.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 9


async def test_page_keys_and_urls_translate_both_ways(catalogue: Store) -> None:
    async with catalogue.snapshot() as snapshot:
        keys = await snapshot.page_keys([HOME, PRICING, "https://example.com/never-seen"])
        urls = await snapshot.page_urls(set(keys.values()))

    assert set(keys) <= {HOME, PRICING, "https://example.com/never-seen"}
    assert {HOME, PRICING} <= set(keys)
    assert {urls[keys[HOME]], urls[keys[PRICING]]} == {HOME, PRICING}


async def test_a_snapshot_does_not_see_what_is_written_after_it_opened(store: Store) -> None:
    if not getattr(store, "isolated_snapshots", True):
        pytest.skip("this store (MongoDB without a replica set) has no snapshot reads")
    await store.ingest(SITE_A, [pageview("s-1", "v1", "2025-07-15T10:00:00Z", HOME)], RECUT)

    async with store.snapshot() as snapshot:
        before = await snapshot.count_sessions(SITE_A, EVERYTHING, ALL_TIME)
        await store.ingest(
            SITE_A,
            [
                pageview("s-2", "v2", "2025-07-15T11:00:00Z", PRICING),
                conversion("s-3", "v1", "2025-07-15T10:05:00Z", PRICING),
            ],
            RECUT,
        )
        during = await snapshot.count_sessions(SITE_A, EVERYTHING, ALL_TIME)
        rows = await _rows(snapshot, EVERYTHING, ALL_TIME, SITE_A)

    assert before == during == 1
    assert [(r.ordinal, r.conversions) for r in rows] == [(0, None)]
    assert await store.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 2


async def test_shuffled_random_batches_of_real_traffic_give_the_sessions_of_one_cut(
    store: Store,
) -> None:
    # Demo traffic has returning visitors, campaigns and exits: late events land before,
    # inside and after stored sessions, which exercises every store's re-cut path.
    from attributionhub.demo import generate_events

    end = datetime(2025, 7, 20, tzinfo=UTC)
    raws = list(generate_events(count=1500, start=end - timedelta(days=10), end=end, seed=3))
    events = [parse_event(raw, site_id=SITE_A, now=NOW) for raw in raws]
    rng = random.Random(5)
    shuffled = events[:]
    rng.shuffle(shuffled)
    position = 0
    while position < len(shuffled):
        size = rng.randint(1, 300)
        await store.ingest(SITE_A, shuffled[position : position + size], RECUT)
        position += size
    expected = RECUT(events)
    assert by_identity(await all_sessions(store)) == by_identity(expected)
    # The read model's facts too: ordinals after tail re-cuts equal a whole cut's.
    rows = await report_rows(store)
    assert _anonymous(rows) == _anonymous(expected_rows(expected, expected))
    assert _same_visitor_grouping(rows, expected)
    # Counts agree with the listing after every re-cut, for windows on day boundaries
    # and off them, with and without a filter.
    windows = [
        ALL_TIME,
        TimeWindow(at("2025-07-12T00:00:00"), at("2025-07-16T23:59:59.999999")),
        TimeWindow(at("2025-07-12T13:30:00"), at("2025-07-16T08:15:00")),
        TimeWindow(at("2025-07-14T01:00:00"), at("2025-07-14T22:00:00")),
        TimeWindow(start=at("2025-07-15T12:00:00")),
        TimeWindow(end=at("2025-07-13T06:00:00")),
    ]
    first = expected[0]
    filters = [
        EVERYTHING,
        SessionFilters(source="google.com"),
        SessionFilters(medium=first.attribution.medium),
        SessionFilters(landing_page=first.landing_page),
        SessionFilters(campaign="summer-sale"),
        SessionFilters(source="google.com", medium="organic"),
    ]
    for window in windows:
        for selected in filters:
            listed = await store.list_sessions(SITE_A, selected, window, limit=10_000)
            counted = await store.count_sessions(SITE_A, selected, window)
            assert counted == len(listed), (window, selected)


async def journey_history(store: Store) -> None:
    await store.ingest(
        SITE_A,
        [
            pageview("j-1", "v1", "2025-07-01T10:00:00Z", HOME),
            pageview("j-2", "v1", "2025-07-10T10:00:00Z", PRICING),
            conversion("j-3", "v1", "2025-07-10T10:05:00Z", f"{HOME}/signup"),
            pageview("j-4", "v1", "2025-07-20T10:00:00Z", BLOG),
            # In the window, but not from email: its visitor has no journey there.
            pageview("j-5", "v2", "2025-07-10T11:00:00Z", f"{HOME}?utm_source=x&utm_medium=cpc"),
            # Before the window only.
            pageview("j-6", "v3", "2025-07-02T10:00:00Z", HOME),
        ],
        RECUT,
    )
    # The same visitor on another site, earlier than any of its sessions on site A.
    await store.ingest(
        SITE_B, [conversion("j-1", "v1", "2025-06-01T10:00:00Z", HOME, site=SITE_B)], RECUT
    )


async def visitor_conversions(
    store: Store, filters: SessionFilters, window: TimeWindow
) -> list[tuple[int, tuple[ReportConversion, ...]]]:
    """(ordinal, conversions with URLs) of the visitor conversions, sorted."""
    async with store.snapshot() as snapshot:
        found = [
            c
            async for chunk in snapshot.visitor_conversions(SITE_A, filters, window)
            for c in chunk
        ]
        keys = {k for c in found for conv in c.conversions for k in (conv.page, conv.previous_page)}
        urls = await snapshot.page_urls(keys)
    return sorted(
        (
            c.ordinal,
            tuple(
                conv._replace(page=urls[conv.page], previous_page=urls[conv.previous_page])
                for conv in c.conversions
            ),
        )
        for c in found
    )


async def test_visitor_conversions_span_the_whole_history_of_the_windows_visitors_only(
    store: Store,
) -> None:
    await journey_history(store)
    window = TimeWindow(at("2025-07-09T00:00:00"), at("2025-07-11T00:00:00"))

    # v1's sessions are direct (medium none); the window holds its converting session
    # of 07-10 10:00, its second ever (ordinal 1). v2's only session is cpc (filtered
    # out); v3 has none in the window.
    found = await visitor_conversions(store, SessionFilters(medium="none"), window)

    assert found == [
        (1, (ReportConversion(f"{HOME}/signup", PRICING, "hubspot_form", "form-7"),)),
    ]


async def test_visitor_conversions_reach_outside_the_window(store: Store) -> None:
    await journey_history(store)
    # Only v1's third session (07-20) is in this window; its conversion came before it.
    window = TimeWindow(at("2025-07-19T00:00:00"), at("2025-07-21T00:00:00"))

    found = await visitor_conversions(store, EVERYTHING, window)

    assert [ordinal for ordinal, _ in found] == [1]
    assert (
        await visitor_conversions(store, EVERYTHING, TimeWindow(end=at("2025-06-30T00:00:00")))
        == []
    )


async def test_visitor_conversions_leave_out_visitors_seen_only_in_their_first_session(
    store: Store,
) -> None:
    await journey_history(store)
    # v1's first session (07-01) and v3's only one (07-02): neither can be assist or
    # after, so neither visitor's conversions are read, although v1 converted on 07-10.
    window = TimeWindow(at("2025-07-01T00:00:00"), at("2025-07-03T00:00:00"))

    assert await visitor_conversions(store, EVERYTHING, window) == []


# --- attribution's reads ------------------------------------------------------------------


async def journey_rows(
    store: Store,
    window: TimeWindow,
    lookback: timedelta = timedelta(0),
    site_id: str = SITE_A,
) -> list[JourneySession]:
    """Journey rows, page and text keys turned into URLs and texts."""
    async with store.snapshot() as snapshot:
        rows = [
            JourneySession(*row)
            async for chunk in snapshot.journey_sessions(site_id, window, lookback)
            for row in chunk
        ]
        keys = {c[1] for row in rows for c in row.conversions or ()}
        urls = await snapshot.page_urls(keys)
        texts = await snapshot.attribution_texts(
            {key for row in rows for key in row[2:5] if key is not None}
        )
    return [
        row._replace(
            source=texts[row.source],
            medium=texts[row.medium],
            campaign=None if row.campaign is None else texts[row.campaign],
            conversions=tuple(
                JourneyConversion(*c)._replace(page=urls[c[1]]) for c in row.conversions
            )
            if row.conversions
            else None,
        )
        for row in rows
    ]


JUNE_NEWSLETTER = "utm_source=news&utm_medium=email&utm_campaign=june"


async def test_journey_sessions_are_the_sessions_starting_in_the_window_with_values(
    store: Store,
) -> None:
    events = [
        pageview(
            "e-1",
            "v1",
            "2025-07-10T10:00:00Z",
            f"{PRICING}?utm_source=news&utm_medium=email&utm_campaign=june",
        ),
        conversion("e-2", "v1", "2025-07-10T10:04:00Z", PRICING, value=12.5),
        pageview("e-3", "v1", "2025-07-12T10:00:00Z", HOME, referrer="https://www.google.com/"),
        pageview("e-4", "v2", "2025-07-11T09:00:00Z", BLOG),
        pageview("e-5", "v2", "2025-07-20T09:00:00Z", BLOG),  # after the window
    ]
    await store.ingest(SITE_A, events, RECUT)
    await store.ingest(
        SITE_B, [pageview("e-9", "v1", "2025-07-11T09:00:00Z", HOME, site=SITE_B)], RECUT
    )
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-15T00:00:00Z"))

    rows = await journey_rows(store, window)

    expected = [journey_session(s) for s in await all_sessions(store) if window.contains(s.start)]
    assert len(rows) == 3
    assert sorted((tuple(r[1:]) for r in rows), key=repr) == sorted(
        (tuple(r[1:]) for r in expected), key=repr
    )
    # v1's two sessions share one visitor key, v2's session has another.
    by_start = {row.start: row.visitor for row in rows}
    v1 = [row.start for row in expected if row.visitor == "v1"]
    assert by_start[v1[0]] == by_start[v1[1]]
    assert len(set(by_start.values())) == 2
    converted = next(row for row in rows if row.conversions)
    assert converted.conversions is not None
    assert converted.conversions[0].value == 12.5
    assert (converted.source, converted.medium, converted.campaign) == ("news", "email", "june")


async def test_journey_sessions_reach_back_the_lookback_for_visitors_who_converted(
    store: Store,
) -> None:
    events = [
        pageview("e-1", "v1", "2025-07-05T10:00:00Z", HOME),  # v1: before the window
        pageview("e-2", "v1", "2025-07-11T10:00:00Z", PRICING),
        conversion("e-3", "v1", "2025-07-11T10:02:00Z", PRICING),
        pageview("e-4", "v2", "2025-07-06T10:00:00Z", HOME),  # v2: before it, never converts
        pageview("e-5", "v2", "2025-07-12T10:00:00Z", BLOG),
        pageview("e-6", "v3", "2025-06-20T10:00:00Z", HOME),  # v3: before the lookback
        conversion("e-7", "v3", "2025-06-20T10:01:00Z", HOME),
        pageview("e-8", "v3", "2025-07-13T10:00:00Z", HOME),
    ]
    await store.ingest(SITE_A, events, RECUT)
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-15T00:00:00Z"))

    rows = await journey_rows(store, window, timedelta(days=7))

    starts = {row.start for row in rows}
    must = {
        "2025-07-05T10:00:00Z",
        "2025-07-11T10:00:00Z",
        "2025-07-12T10:00:00Z",
        "2025-07-13T10:00:00Z",
    }
    assert {to_micros(at(text)) for text in must} <= starts
    # Nothing from before the lookback; v2's earlier session may or may not be there.
    assert to_micros(at("2025-06-20T10:00:00Z")) not in starts
    assert len(rows) in (4, 5)


async def test_journey_sessions_come_by_visitor_then_by_start(store: Store) -> None:
    events = [
        # In start order the visitors alternate: v2's sessions fall between v1's.
        pageview("e-1", "v2", "2025-07-05T10:00:00Z", HOME),
        conversion("e-2", "v2", "2025-07-05T10:01:00Z", HOME),
        pageview("e-3", "v1", "2025-07-10T10:00:00Z", HOME),
        pageview("e-4", "v2", "2025-07-11T10:00:00Z", BLOG),
        pageview("e-5", "v1", "2025-07-12T10:00:00Z", PRICING),
        conversion("e-6", "v1", "2025-07-12T10:02:00Z", PRICING),
        pageview("e-7", "v2", "2025-07-13T10:00:00Z", HOME, referrer="https://www.google.com/"),
        pageview("e-8", "v1", "2025-07-14T10:00:00Z", BLOG),
    ]
    await store.ingest(SITE_A, events, RECUT)
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-15T00:00:00Z"))

    async with store.snapshot() as snapshot:
        rows = [
            (row[0], row[1])
            async for chunk in snapshot.journey_sessions(SITE_A, window, timedelta(days=7))
            for row in chunk
        ]

    assert rows == sorted(rows)
    assert len(rows) >= 5
    assert len({visitor for visitor, _ in rows}) == 2


async def test_an_attribution_report_does_not_depend_on_the_ingestion_order(
    store: Store,
) -> None:
    # The same events as the service's unit test, reversed and in three batches here,
    # in order into the in-memory reference there: every figure equal to the last bit.
    window = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
    reference = AttributionService(MemoryStore(), FixedClock(SERVICE_NOW), ListBots())
    await reference.ingest(SITE_A, JOURNEY_EVENTS)
    service = AttributionService(store, FixedClock(SERVICE_NOW), ListBots())
    reverse = JOURNEY_EVENTS[::-1]
    for i in range(3):
        await service.ingest(SITE_A, reverse[i::3])
    expected = await reference.attribution(SITE_A, window)
    assert expected is not None
    assert await service.attribution(SITE_A, window) == expected


# --- the aggregates' reads ----------------------------------------------------------------


async def aggregate_rows(
    store: Store, filters: SessionFilters, window: TimeWindow, site_id: str = SITE_A
) -> list[AggregateSession]:
    """Aggregate rows, page and text keys turned into URLs and texts."""
    async with store.snapshot() as snapshot:
        rows = [
            AggregateSession(*row)
            async for chunk in snapshot.aggregate_sessions(site_id, filters, window)
            for row in chunk
        ]
        pages = {row.landing for row in rows} | {
            c[0] for row in rows for c in row.conversions or ()
        }
        urls = await snapshot.page_urls(pages)
        texts = await snapshot.attribution_texts(
            {key for row in rows for key in row[2:7] if key is not None}
        )
    return [
        row._replace(
            source=texts[row.source],
            medium=texts[row.medium],
            campaign=None if row.campaign is None else texts[row.campaign],
            content=None if row.content is None else texts[row.content],
            term=None if row.term is None else texts[row.term],
            landing=urls[row.landing],
            conversions=tuple(
                AggregateConversion(*c)._replace(page=urls[c[0]]) for c in row.conversions
            )
            if row.conversions
            else None,
        )
        for row in rows
    ]


FULL_CAMPAIGN = "utm_source=news&utm_medium=email&utm_campaign=june&utm_content=hero&utm_term=shoes"


async def test_aggregate_rows_are_the_matching_sessions_of_the_window_with_their_values(
    store: Store,
) -> None:
    events = [
        pageview("a-1", "v1", "2025-07-10T10:00:00Z", f"{PRICING}?{FULL_CAMPAIGN}"),
        conversion("a-2", "v1", "2025-07-10T10:04:00Z", f"{HOME}/signup"),
        pageview("a-3", "v1", "2025-07-12T10:00:00Z", BLOG, referrer="https://www.google.com/"),
        pageview("a-4", "v2", "2025-07-11T09:00:00Z", HOME),
        pageview("a-5", "v2", "2025-07-20T09:00:00Z", BLOG),  # after the window
        pageview("a-6", "v3", "2025-07-11T12:00:00Z", f"{PRICING}?utm_source=x&utm_medium=cpc"),
    ]
    await store.ingest(SITE_A, events, RECUT)
    await store.ingest(
        SITE_B, [pageview("a-9", "v1", "2025-07-11T09:00:00Z", HOME, site=SITE_B)], RECUT
    )
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-15T00:00:00Z"))

    rows = await aggregate_rows(store, EVERYTHING, window)

    expected = [aggregate_session(s) for s in await all_sessions(store) if window.contains(s.start)]
    assert len(rows) == 4
    assert sorted((tuple(r[1:]) for r in rows), key=repr) == sorted(
        (tuple(r[1:]) for r in expected), key=repr
    )
    converted = next(row for row in rows if row.conversions)
    assert (converted.campaign, converted.content, converted.term) == ("june", "hero", "shoes")
    assert converted.conversions == (
        AggregateConversion(f"{HOME}/signup", "hubspot_form", "form-7"),
    )
    # v1's two sessions share one visitor key; three visitors in all.
    by_start = {row.start: row.visitor for row in rows}
    v1 = [row.start for row in expected if row.visitor == "v1"]
    assert by_start[v1[0]] == by_start[v1[1]]
    assert len(set(by_start.values())) == 3


async def test_aggregate_rows_follow_the_session_filters(store: Store) -> None:
    await journey_history(store)
    window = TimeWindow(at("2025-07-01T00:00:00Z"), at("2025-07-31T00:00:00Z"))

    cpc = await aggregate_rows(store, SessionFilters(medium="cpc"), window)
    landed = await aggregate_rows(store, SessionFilters(landing_page=PRICING), window)
    unknown = await aggregate_rows(store, SessionFilters(source="never-seen"), window)

    assert [(r.source, r.medium, r.landing) for r in cpc] == [("x", "cpc", HOME)]
    assert [(r.landing, r.conversions is not None) for r in landed] == [(PRICING, True)]
    assert unknown == []


async def test_aggregates_do_not_depend_on_the_store_or_the_ingestion_order(
    store: Store,
) -> None:
    # The in-memory store, in order, is the reference: every figure equal.
    window = {"start_date": "2025-07-01", "end_date": "2025-07-31"}
    reference = AttributionService(MemoryStore(), FixedClock(SERVICE_NOW), ListBots())
    await reference.ingest(SITE_A, JOURNEY_EVENTS)
    service = AttributionService(store, FixedClock(SERVICE_NOW), ListBots())
    reverse = JOURNEY_EVENTS[::-1]
    for i in range(3):
        await service.ingest(SITE_A, reverse[i::3])
    async with reference.reading() as expected, service.reading() as got:
        series = {**window, "interval": "week", "time_zone": "Europe/Berlin"}
        weekly = await got.timeseries(SITE_A, series)
        assert weekly == await expected.timeseries(SITE_A, series)
        assert sum(bucket.sessions for bucket in weekly.buckets) == 6
        for by in ("source", "medium", "campaign", "content", "term", "landing_page", "channel"):
            asked = {**window, "by": by, "meta_type": "custom"}
            found = await got.breakdown(SITE_A, asked)
            assert found == await expected.breakdown(SITE_A, asked)
            assert sum(row.conversions for row in found.rows) == 3


async def test_an_aggregate_stream_can_be_abandoned_and_the_store_still_serves(
    catalogue: Store,
) -> None:
    async with catalogue.snapshot() as snapshot:
        stream = snapshot.aggregate_sessions(SITE_A, EVERYTHING, ALL_TIME, {"visitor", "start"})
        first = await anext(aiter(stream))
        assert first
        # Only the fields asked for need be there.
        assert all(isinstance(row[1], int) for row in first)
        await stream.aclose()  # type: ignore[attr-defined]  # every store yields a generator
        assert await snapshot.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 9

    assert await catalogue.count_sessions(SITE_A, EVERYTHING, ALL_TIME) == 9


async def test_aggregate_rows_hold_the_fields_asked_for_in_the_rows_order(store: Store) -> None:
    events = [
        pageview("f-1", "v1", "2025-07-10T10:00:00Z", f"{PRICING}?{FULL_CAMPAIGN}"),
        conversion("f-2", "v1", "2025-07-10T10:04:00Z", f"{HOME}/signup"),
        pageview("f-3", "v2", "2025-07-11T09:00:00Z", HOME),
    ]
    await store.ingest(SITE_A, events, RECUT)
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-15T00:00:00Z"))

    async with store.snapshot() as snapshot:
        rows = [
            row
            async for chunk in snapshot.aggregate_sessions(
                SITE_A, EVERYTHING, window, {"conversions", "start", "campaign"}
            )
            for row in chunk
        ]
        texts = await snapshot.attribution_texts({row[1] for row in rows if row[1] is not None})

    assert in_row_order({"conversions", "start", "campaign"}) == (
        "start",
        "campaign",
        "conversions",
    )
    found = sorted(
        (start, None if campaign is None else texts[campaign], conversions is not None)
        for start, campaign, conversions in rows
    )
    assert found == [
        (to_micros(at("2025-07-10T10:00:00Z")), "june", True),
        (to_micros(at("2025-07-11T09:00:00Z")), None, False),
    ]


async def test_events_before_1970_are_re_cut_like_any_others(store: Store) -> None:
    # Instants before the epoch are negative: a re-cut of the whole history must start
    # before them (a sentinel of -1 did not).
    first = pageview("e-1", "v1", "1969-07-09T10:26:44Z", "https://example.com/x")
    second = pageview("e-2", "v1", "1969-07-09T10:26:44Z", "https://example.com/y")
    await store.ingest(SITE_A, [first], RECUT)
    await store.ingest(SITE_A, [second], RECUT)
    assert by_identity(await all_sessions(store)) == by_identity(RECUT([first, second]))


# --- privacy: access, erasure, retention (docs/privacy.md) ------------------------------
GOOGLE = SessionFilters(source="google.com")


def _with_email(event: Event, email: str) -> Event:
    return replace(event, email=email)


async def _counts(store: Store, site_id: str = SITE_A) -> tuple[int, int]:
    # The unfiltered and a filtered count: SQLite answers them from its per-day counts.
    return (
        await store.count_sessions(site_id, EVERYTHING, ALL_TIME),
        await store.count_sessions(site_id, GOOGLE, ALL_TIME),
    )


PRIVACY_EVENTS = [
    pageview("p-1", "v1", "2025-07-15T10:00:00Z", HOME, referrer="https://www.google.com/"),
    conversion("p-2", "v1", "2025-07-15T10:04:00Z", f"{HOME}/signup"),
    pageview("p-3", "v1", "2025-07-16T10:00:00Z", BLOG),
    pageview("p-4", "v2", "2025-07-15T11:00:00Z", PRICING, referrer="https://www.google.com/"),
    _with_email(conversion("p-5", "v2", "2025-07-15T11:02:00Z", PRICING), "Bob@Example.org"),
    pageview("p-6", "v3", "2025-07-15T12:00:00Z", BLOG, referrer="https://www.google.com/"),
]
OTHER_SITE = [
    pageview("q-1", "v1", "2025-07-15T10:00:00Z", HOME, site=SITE_B),
    conversion("q-2", "v1", "2025-07-15T10:04:00Z", HOME, site=SITE_B),
]


async def test_visitor_sessions_are_the_stored_sessions_of_that_visitor_in_start_order(
    store: Store,
) -> None:
    await store.ingest(SITE_A, PRIVACY_EVENTS, RECUT)

    sessions = await store.visitor_sessions(SITE_A, "v1")

    assert sessions == sorted(RECUT(PRIVACY_EVENTS[:3]), key=lambda s: s.start)
    assert await store.visitor_sessions(SITE_A, "v9") == []
    assert await store.visitor_sessions(SITE_B, "v1") == []


async def test_erasing_a_visitor_deletes_its_events_and_sessions_only_and_counts_them(
    store: Store,
) -> None:
    await store.ingest(SITE_A, PRIVACY_EVENTS, RECUT)
    await store.ingest(SITE_B, OTHER_SITE, RECUT)

    erased = await store.erase_visitor(SITE_A, "v1")

    assert (erased.visitors, erased.events) == (1, 3)
    assert await store.visitor_events(SITE_A, "v1") == []
    assert await store.visitor_sessions(SITE_A, "v1") == []
    remaining = PRIVACY_EVENTS[3:]
    assert by_identity(await all_sessions(store)) == by_identity(RECUT(remaining))
    assert await _counts(store) == (2, 2)
    assert len(await store.visitor_events(SITE_B, "v1")) == 2
    assert by_identity(await all_sessions(store, SITE_B)) == by_identity(RECUT(OTHER_SITE))
    again = await store.erase_visitor(SITE_A, "v1")
    assert (again.visitors, again.events) == (0, 0)
    assert (await store.erase_visitor(SITE_A, "v9")).events == 0


async def test_erasing_by_email_ignores_case_and_takes_every_visitor_holding_it(
    store: Store,
) -> None:
    shared = _with_email(conversion("p-7", "v3", "2025-07-15T12:03:00Z", BLOG), "bob@example.ORG")
    near = _with_email(conversion("p-8", "v4", "2025-07-15T13:00:00Z", BLOG), "bob@example.org.uk")
    await store.ingest(SITE_A, [*PRIVACY_EVENTS, shared, near], RECUT)
    bob_on_b = _with_email(OTHER_SITE[1], "bob@example.org")
    await store.ingest(SITE_B, [OTHER_SITE[0], bob_on_b], RECUT)

    erased = await store.erase_email(SITE_A, "BOB@example.org")

    assert (erased.visitors, erased.events) == (2, 4)
    remaining = [*PRIVACY_EVENTS[:3], near]
    assert by_identity(await all_sessions(store)) == by_identity(RECUT(remaining))
    assert await _counts(store) == (3, 1)
    assert by_identity(await all_sessions(store, SITE_B)) == by_identity(
        RECUT([OTHER_SITE[0], bob_on_b])
    )
    again = await store.erase_email(SITE_A, "bob@example.org")
    assert (again.visitors, again.events) == (0, 0)


async def test_a_purge_deletes_old_events_and_re_cuts_a_session_straddling_the_cut_off(
    store: Store,
) -> None:
    straddling = [
        pageview("r-1", "v1", "2025-07-10T09:50:00Z", HOME, referrer="https://www.google.com/"),
        pageview("r-2", "v1", "2025-07-10T10:05:00Z", PRICING),
        pageview("r-3", "v1", "2025-07-10T10:20:00Z", BLOG),
    ]
    gone = [pageview("r-4", "v2", "2025-07-01T10:00:00Z", HOME, referrer="https://www.google.com/")]
    kept = [pageview("r-5", "v3", "2025-07-12T10:00:00Z", HOME)]
    on_b = [pageview("r-6", "v1", "2025-07-02T10:00:00Z", HOME, site=SITE_B)]
    await store.ingest(SITE_A, [*straddling, *gone, *kept], RECUT)
    await store.ingest(SITE_B, on_b, RECUT)
    cutoff = at("2025-07-10T10:00:00Z")

    # One visitor per batch: the purge goes on until a batch finds nothing.
    batches = []
    while (purged := await store.purge(cutoff, RECUT, visitors=1)).events:
        batches.append(purged)

    assert sorted((b.visitors, b.events) for b in batches) == [(1, 1), (1, 1), (1, 1)]
    remaining = [*straddling[1:], *kept]
    assert by_identity(await all_sessions(store)) == by_identity(RECUT(remaining))
    [recut] = await store.visitor_sessions(SITE_A, "v1")
    assert recut.start == at("2025-07-10T10:05:00Z")
    assert recut.attribution.source == "direct"
    assert await _counts(store) == (2, 0)
    assert await all_sessions(store, SITE_B) == []
    assert sorted(e.event_id for e in await store.visitor_events(SITE_A, "v1")) == ["r-2", "r-3"]
    assert (await store.purge(cutoff, RECUT, visitors=10)).events == 0


async def test_a_visitors_history_is_its_events_and_their_re_cut_even_while_events_arrive(
    store: Store,
) -> None:
    # Reads race with ingests of the same visitor: every read must see sessions that are
    # the re-cut of exactly the events it sees (one committed state).
    events = [
        pageview(f"e-{i}", "v1", f"2025-07-15T{10 + i // 60:02d}:{i % 60:02d}:00Z", HOME)
        for i in range(0, 240, 7)
    ]
    seen: list[tuple[list[Event], list[Session]]] = []

    async def write() -> None:
        for i in range(0, len(events), 3):
            await store.ingest(SITE_A, events[i : i + 3], RECUT)
            await asyncio.sleep(0)

    async def read() -> None:
        for _ in range(30):
            seen.append(await store.visitor_history(SITE_A, "v1"))
            await asyncio.sleep(0)

    await asyncio.gather(write(), read(), read())
    seen.append(await store.visitor_history(SITE_A, "v1"))
    for found, sessions in seen:
        assert by_identity(sessions) == by_identity(RECUT(found))
    assert len(seen[-1][0]) == len(events)
    assert await store.visitor_history(SITE_B, "v1") == ([], [])


# --- sessions of a thousand conversions --------------------------------------------------


async def test_every_read_returns_every_conversion_of_a_session_of_a_thousand_in_order(
    store: Store,
) -> None:
    # More than one MongoDB document can hold (about 18 MB): the store has to split them.
    start = at("2025-07-10T10:00:00Z")
    converting = [
        pageview("k-0", "v1", "2025-07-10T09:59:00Z", f"{PRICING}?{JUNE_NEWSLETTER}"),
        *(
            parse_event(
                {
                    "type": "conversion",
                    "event_id": f"k-{i}",
                    "visitor_id": "v1",
                    "timestamp": (start + timedelta(milliseconds=500 * i)).isoformat(),
                    # 100 pages of ten conversions each: a path every store keeps whole.
                    "url": f"{HOME}/step-{i // 10}/{'p' * 3_000}",
                    "email": f"ann-{i}-{'e' * 2_000}@example.org",
                    "meta_type": "hubspot_form",
                    "meta_id": f"form-{i}-{'f' * 2_000}",
                    "value": float(i),
                },
                site_id=SITE_A,
                now=NOW,
            )
            for i in range(1, 1_001)
        ),
    ]
    earlier = [pageview("k-x", "v1", "2025-07-01T10:00:00Z", HOME)]
    events = [*earlier, *converting]
    await store.ingest(SITE_A, events, RECUT)
    expected = sorted(RECUT(events), key=lambda s: s.start)
    assert len(expected[1].conversions) == 1_000
    window = TimeWindow(at("2025-07-10T00:00:00Z"), at("2025-07-11T00:00:00Z"))

    assert sorted(await all_sessions(store), key=lambda s: s.start) == expected
    assert await store.visitor_sessions(SITE_A, "v1") == expected
    assert (await store.visitor_history(SITE_A, "v1"))[1] == expected
    rows = await report_rows(store)
    assert _anonymous(rows) == _anonymous(expected_rows(expected, expected))
    assert await visitor_conversions(store, EVERYTHING, window) == [
        (1, report_conversions(expected[1]))
    ]
    # Without the visitor: keys are each store's own.
    [journey] = await journey_rows(store, window)
    assert journey[1:] == journey_session(expected[1])[1:]
    [aggregate] = await aggregate_rows(store, EVERYTHING, window)
    assert aggregate[1:] == aggregate_session(expected[1])[1:]
