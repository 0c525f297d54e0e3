"""What the MongoDB adapter promises beyond the shared store contract: start-up, layout,
upgrades, snapshot sessions, and convergence when ingests really interleave
(mongomock-motor, see ``mongo_shim``)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import bson
import pytest

from adapters import mongo_store
from adapters.mongo_store import (
    MongoStore,
    MongoUnavailableError,
    database_from_url,
    redact,
)
from domain.events import MAX_URL_LENGTH, parse_event
from domain.model import Event, Session, Site
from domain.page_report import (
    ReportSession,
    VisitorConversions,
    report_conversions,
    report_session,
    with_ordinals,
)
from domain.ports import StoreUnavailableError
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import (
    REPLICA_SET_HELLO,
    InterleavingClient,
    SnapshotClient,
    mongomock_client,
)

NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
HOME = "https://example.com"


PRICING = "https://example.com/pricing"


def pageview(
    event_id: str, visitor: str, timestamp: str, url: str = HOME, *, site: str = SITE
) -> Event:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": url,
    }
    return parse_event(raw, site_id=site, now=NOW)


def conversion(event_id: str, visitor: str, timestamp: str, url: str = PRICING) -> Event:
    raw = {
        "type": "conversion",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": timestamp,
        "url": url,
        "email": "ann@example.org",
        "meta_type": "hubspot_form",
        "meta_id": "form-7",
    }
    return parse_event(raw, site_id=SITE, now=NOW)


async def open_on(client: Any, url: str = "mongodb://mongomock.invalid/", **options: Any) -> Any:
    return await MongoStore.open(url, client=client, **options)


# --- start-up -----------------------------------------------------------------------
async def test_the_database_is_the_one_named_in_the_url_path() -> None:
    client = mongomock_client()
    store = await open_on(client, "mongodb://a:1,b:2/analytics?replicaSet=rs0")
    await store.add_site(Site("s1", "One", "api-1", "tracker-1", datetime(2025, 7, 1, tzinfo=UTC)))

    assert store.database_name == "analytics"
    assert await client["analytics"]["sites"].count_documents({}) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("mongodb://localhost:27017", None, id="no-path"),
        pytest.param("mongodb://localhost/", None, id="empty-path"),
        pytest.param("mongodb://u:p@h1:1,h2:2/prod_db?authSource=admin", "prod_db", id="full"),
        pytest.param("mongodb+srv://cluster.example.net/ah%2Dtest", "ah-test", id="srv-quoted"),
    ],
)
def test_the_database_name_is_read_from_the_url_path(url: str, expected: str | None) -> None:
    assert database_from_url(url) == expected


async def test_without_a_database_in_the_url_the_store_uses_attributionhub() -> None:
    store = await open_on(mongomock_client(), "mongodb://localhost:27017")

    assert store.database_name == "attributionhub"


async def test_an_explicit_database_overrides_the_url() -> None:
    store = await open_on(mongomock_client(), "mongodb://localhost/analytics", database="other")

    assert store.database_name == "other"


async def test_an_unreachable_server_fails_fast_naming_the_url_without_its_password() -> None:
    started = time.monotonic()

    with pytest.raises(MongoUnavailableError) as raised:
        # Port 1 on loopback: connection refused, so only the selection timeout waits.
        await MongoStore.open(
            "mongodb://ann:s3cret@127.0.0.1:1/analytics", server_selection_timeout=0.3
        )

    assert time.monotonic() - started < 5
    message = str(raised.value)
    assert "mongodb://***@127.0.0.1:1/analytics" in message
    assert "within 0.3 s" in message
    assert "s3cret" not in message


async def test_a_malformed_url_is_reported_as_unavailable() -> None:
    with pytest.raises(MongoUnavailableError, match="invalid MongoDB URL"):
        await MongoStore.open("mongodb://localhost/db?novalue", server_selection_timeout=0.3)


def test_redact_hides_user_and_password_only() -> None:
    assert redact("mongodb://u:p@h:1/db?w=1") == "mongodb://***@h:1/db?w=1"
    assert redact("mongodb://h:1/db") == "mongodb://h:1/db"


async def test_the_write_concern_is_majority_unless_configured() -> None:
    default = await open_on(mongomock_client())
    two = await open_on(mongomock_client(), write_concern="2")

    assert default.write_concern == "majority"
    assert two.write_concern == 2


async def test_an_unacknowledged_write_concern_is_refused() -> None:
    # With w=0 the server reports no duplicate keys, so ingestion could not be idempotent.
    with pytest.raises(ValueError, match="write_concern"):
        await open_on(mongomock_client(), write_concern="0")


async def test_opening_creates_the_identity_and_listing_indexes() -> None:
    client = mongomock_client()
    await open_on(client)
    db = client["attributionhub"]

    identities = await db["event_ids"].index_information()
    events = await db["events"].index_information()
    sessions = await db["sessions"].index_information()
    sites = await db["sites"].index_information()

    assert identities["event_identity"]["unique"] is True
    assert list(identities["event_identity"]["key"]) == [("site_id", 1), ("event_id", 1)]
    assert events["visitor_event"]["unique"] is True
    assert list(events["visitor_event"]["key"]) == [
        ("site_id", 1),
        ("visitor_id", 1),
        ("event_id", 1),
    ]
    assert list(events["visitor_timeline"]["key"]) == [
        ("site_id", 1),
        ("visitor_id", 1),
        ("timestamp_us", 1),
    ]
    assert list(events["by_time"]["key"]) == [("timestamp_us", 1)]
    # mongomock drops the partial filter from index_information; the real-server run checks it.
    assert list(events["conversions"]["key"]) == [("site_id", 1)]
    assert list(sessions["by_start"]["key"]) == [
        ("site_id", 1),
        ("start_us", -1),
        ("visitor_id", 1),
        ("session_id", 1),
    ]
    assert list(sessions["by_campaign"]["key"])[:3] == [
        ("site_id", 1),
        ("campaign", 1),
        ("start_us", -1),
    ]
    assert {"by_source", "by_medium", "by_landing_page", "session_identity"} <= sessions.keys()
    # mongomock drops the partial filter from index_information; the real-server run checks it.
    assert list(sessions["converting"]["key"]) == [
        ("site_id", 1),
        ("visitor_id", 1),
        ("ordinal", 1),
    ]
    assert sites["by_api_key"]["unique"] is True
    assert sites["by_token"]["unique"] is True


async def test_reopening_an_existing_database_keeps_its_data() -> None:
    client = mongomock_client()
    first = await open_on(client)
    await first.ingest(SITE, [pageview("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)

    again = await open_on(client)

    assert [e.event_id for e in await again.visitor_events(SITE, "v1")] == ["e-1"]


async def test_instants_are_bson_dates_with_their_exact_microseconds_beside_them() -> None:
    client = mongomock_client()
    store = await open_on(client)
    event = pageview("e-1", "v1", "2025-07-15T10:00:00.123456Z")
    await store.ingest(SITE, [event], RECUT)

    raw = await client["attributionhub"]["sessions"].find_one({"visitor_id": "v1"})

    # BSON keeps milliseconds: 123456 µs reads back as 123000 µs, the _us field is exact.
    assert raw["start"] == datetime(2025, 7, 15, 10, 0, 0, 123000, tzinfo=UTC)
    assert raw["start_us"] == 1_752_573_600_123_456
    (session,) = await store.list_sessions(SITE, *_everything(), limit=10)
    assert session.start == event.timestamp


# --- the page report's rows -----------------------------------------------------------
def _everything() -> tuple[SessionFilters, TimeWindow]:
    return SessionFilters(), TimeWindow()


async def report_rows(
    store: MongoStore, filters: SessionFilters | None = None, window: TimeWindow | None = None
) -> list[ReportSession]:
    async with store.snapshot() as snapshot:
        chunks = snapshot.report_sessions(SITE, filters or SessionFilters(), window or TimeWindow())
        return [row async for chunk in chunks for row in chunk]


async def conversion_rows(
    store: MongoStore, filters: SessionFilters | None = None, window: TimeWindow | None = None
) -> list[VisitorConversions]:
    async with store.snapshot() as snapshot:
        chunks = snapshot.visitor_conversions(
            SITE, filters or SessionFilters(), window or TimeWindow()
        )
        return [row async for chunk in chunks for row in chunk]


def expected_rows(
    sessions: Sequence[Session], window: TimeWindow | None = None
) -> list[ReportSession]:
    """What the domain makes of whole sessions: ``sessions`` is every visitor's history."""
    window = window or TimeWindow()
    return [report_session(s, n) for s, n in with_ordinals(sessions) if window.contains(s.start)]


def history() -> list[Event]:
    """v1: three sessions, the first converting; v2: one session."""
    return [
        pageview("e-1", "v1", "2025-07-10T10:00:00Z"),
        pageview("e-2", "v1", "2025-07-10T10:05:00Z", PRICING),
        conversion("e-3", "v1", "2025-07-10T10:06:00Z"),
        pageview("e-4", "v1", "2025-07-12T10:00:00Z", PRICING),
        pageview("e-5", "v1", "2025-07-15T10:00:00Z"),
        pageview("e-6", "v2", "2025-07-15T11:00:00Z", PRICING),
    ]


async def test_report_rows_number_sessions_within_their_visitors_whole_history() -> None:
    store = await open_on(mongomock_client())
    events = history()
    await store.ingest(SITE, events, RECUT)
    # The window leaves out v1's first session, which still counts in the ordinals.
    window = TimeWindow(datetime(2025, 7, 11, tzinfo=UTC), datetime(2025, 7, 20, tzinfo=UTC))

    rows = await report_rows(store, window=window)
    converting = await conversion_rows(store, window=window)

    sessions = sessionize(events, timeout=timedelta(minutes=30))
    assert sorted(rows, key=repr) == sorted(expected_rows(sessions, window), key=repr)
    assert sorted((r.visitor, r.ordinal) for r in rows) == [("v1", 1), ("v1", 2), ("v2", 0)]
    # Touch scopes judge against the whole history: the conversion outside the window too.
    (first,) = (s for s in sessions if s.conversions)
    assert converting == [VisitorConversions("v1", 0, report_conversions(first))]


async def test_only_the_visitors_of_the_selected_sessions_have_their_conversions_read() -> None:
    store = await open_on(mongomock_client())
    await store.ingest(SITE, [*history(), conversion("e-7", "v2", "2025-07-15T11:01:00Z")], RECUT)

    only_v1 = await conversion_rows(store, SessionFilters(landing_page=HOME))

    assert {c.visitor for c in only_v1} == {"v1"}


async def test_session_documents_keep_the_report_fields_and_conversions_only_when_converting() -> (
    None
):
    client = mongomock_client()
    store = await open_on(client)
    await store.ingest(SITE, history(), RECUT)

    sessions = client["attributionhub"]["sessions"]
    documents = await sessions.find({"visitor_id": "v1"}).sort("start_us", 1).to_list(None)

    assert [d["ordinal"] for d in documents] == [0, 1, 2]
    assert documents[0]["report_conversions"] == [[PRICING, HOME, "hubspot_form", "form-7"]]
    assert ["report_conversions" in d for d in documents] == [True, False, False]


# --- upgrades ---------------------------------------------------------------------------
@pytest.mark.parametrize("keys_per_query", [1, 2, 5_000])
async def test_opening_a_database_written_before_ordinals_numbers_its_sessions(
    monkeypatch: pytest.MonkeyPatch, keys_per_query: int
) -> None:
    # Small chunks cut the upgrade's pass between the sessions of one visitor and sites.
    monkeypatch.setattr(mongo_store, "KEYS_PER_QUERY", keys_per_query)
    client = mongomock_client()
    previous = await open_on(client)
    events = history()
    elsewhere = [
        pageview(f"b-{i}", f"w{i % 2}", f"2025-07-1{i}T09:00:00Z", site="b") for i in range(4)
    ]
    await previous.ingest(SITE, events, RECUT)
    await previous.ingest("b", elsewhere, RECUT)
    db = client["attributionhub"]
    # What the previous version wrote: neither the new fields nor the layout document.
    await db["sessions"].update_many({}, {"$unset": {"ordinal": "", "report_conversions": ""}})
    await db["meta"].delete_many({})

    store = await open_on(client)

    sessions = sessionize(events, timeout=timedelta(minutes=30))
    assert sorted(await report_rows(store), key=repr) == sorted(expected_rows(sessions), key=repr)
    (first,) = (s for s in sessions if s.conversions)
    assert await conversion_rows(store) == [VisitorConversions("v1", 0, report_conversions(first))]
    others = await db["sessions"].find({"site_id": "b"}).sort("start_us", 1).to_list(None)
    assert [(d["visitor_id"], d["ordinal"]) for d in others] == [
        ("w0", 0),
        ("w1", 0),
        ("w0", 1),
        ("w1", 1),
    ]
    assert await db["sessions"].count_documents({"ordinal": {"$exists": False}}) == 0
    assert (await db["meta"].find_one({"_id": "layout"}))["version"] == 3


async def test_a_new_database_is_marked_upgraded_at_once() -> None:
    client = mongomock_client()
    await open_on(client)

    assert (await client["attributionhub"]["meta"].find_one({"_id": "layout"}))["version"] == 3


# --- snapshots --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hello", "expected"),
    [
        pytest.param(REPLICA_SET_HELLO, True, id="replica-set"),
        pytest.param({"msg": "isdbgrid", "maxWireVersion": 21}, True, id="mongos"),
        pytest.param({"isWritablePrimary": True, "maxWireVersion": 21}, False, id="standalone"),
        pytest.param({"setName": "rs0", "maxWireVersion": 9}, False, id="replica-set-4.4"),
        pytest.param(None, False, id="hello-refused"),
    ],
)
async def test_snapshot_reads_are_used_where_the_deployment_serves_them(
    hello: dict[str, object] | None, expected: bool
) -> None:
    store = await open_on(SnapshotClient(hello))

    assert store.isolated_snapshots is expected


async def test_mongomock_has_no_snapshot_reads() -> None:
    store = await open_on(mongomock_client())

    assert store.isolated_snapshots is False
    async with store.snapshot() as snapshot:
        assert await snapshot.count_sessions(SITE, *_everything()) == 0


async def test_every_read_of_a_snapshot_goes_through_one_snapshot_session() -> None:
    client = SnapshotClient()
    store = await open_on(client)
    await store.ingest(SITE, history(), RECUT)
    client.reads.clear()

    async with store.snapshot() as snapshot:
        total = await snapshot.count_sessions(SITE, *_everything())
        listed = await snapshot.list_sessions(SITE, *_everything(), limit=10)
        rows = [r async for c in snapshot.report_sessions(SITE, *_everything()) for r in c]
        converting = [
            r async for c in snapshot.visitor_conversions(SITE, *_everything()) for r in c
        ]
        (session,) = client.sessions
        assert not session.has_ended

    assert (total, len(listed), len(rows), len(converting)) == (4, 4, 4, 1)
    assert session.options == {"snapshot": True}
    assert session.has_ended
    assert {name for name, _ in client.reads} == {"count_documents", "find", "aggregate"}
    assert all(used is session for _, used in client.reads)


async def test_a_read_of_the_store_itself_takes_a_snapshot_of_its_own() -> None:
    client = SnapshotClient()
    store = await open_on(client)

    await store.count_sessions(SITE, *_everything())
    await store.list_sessions(SITE, *_everything(), limit=10)

    first, second = client.sessions
    assert first is not second
    assert [first.has_ended, second.has_ended] == [True, True]
    assert [used for _, used in client.reads] == [first, second]


# --- concurrency ----------------------------------------------------------------------


def journeys(seed: int) -> list[Event]:
    """Six visitors, each with pageviews whose sessions only come out right when every
    batch's events are seen together: gaps of 20 minutes chain into one session, and one
    gap of 40 minutes splits it."""
    rng = random.Random(seed)
    events: list[Event] = []
    for v in range(6):
        minute = 0
        for i in range(8):
            minute += 40 if i == 5 else 20
            hour, rest = divmod(minute, 60)
            events.append(
                pageview(f"e-{v}-{i}", f"v{v}", f"2025-07-15T{10 + hour:02d}:{rest:02d}:00Z")
            )
    rng.shuffle(events)
    return events


@pytest.mark.parametrize("seed", range(16))
async def test_interleaved_overlapping_ingests_accept_each_event_once_and_converge(
    seed: int,
) -> None:
    client = InterleavingClient(seed=seed)
    store = await open_on(client)
    events = journeys(seed)
    # Five overlapping windows of 20 over 48 events: most events go in two batches.
    batches = [events[i * 7 : i * 7 + 20] for i in range(5)]
    sent = sum(len(b) for b in batches)

    results = await asyncio.gather(*(store.ingest(SITE, b, RECUT) for b in batches))

    assert sum(r.accepted for r in results) == len({e.event_id for b in batches for e in b})
    assert sum(r.accepted + r.duplicates for r in results) == sent
    stored = [e for v in range(6) for e in await store.visitor_events(SITE, f"v{v}")]
    expected = sessionize([e for e in events if e in stored], timeout=timedelta(minutes=30))
    # Each visitor: 20-minute gaps but one of 40 -> two sessions per complete visitor.
    listed = await store.list_sessions(SITE, *_everything(), limit=1000)
    assert set(listed) == set(expected)
    assert len(listed) == len(expected)
    # The last re-cut of each visitor numbered its whole history.
    rows = await report_rows(store)
    assert sorted(rows, key=repr) == sorted(expected_rows(expected), key=repr)


@pytest.mark.parametrize("seed", range(8))
async def test_the_same_event_id_for_two_visitors_is_stored_once(seed: int) -> None:
    store = await open_on(InterleavingClient(seed=seed))
    for_v1 = pageview("shared", "v1", "2025-07-15T10:00:00Z")
    for_v2 = pageview("shared", "v2", "2025-07-15T11:00:00Z")

    results = await asyncio.gather(
        store.ingest(SITE, [for_v1], RECUT), store.ingest(SITE, [for_v2], RECUT)
    )

    assert sorted((r.accepted, r.duplicates) for r in results) == [(0, 1), (1, 0)]
    v1, v2 = await store.visitor_events(SITE, "v1"), await store.visitor_events(SITE, "v2")
    assert len(v1 + v2) == 1
    # Only the visitor that really got the event has a session: no phantom one.
    listed = await store.list_sessions(SITE, *_everything(), limit=10)
    assert [s.visitor_id for s in listed] == [e.visitor_id for e in v1 + v2]


# --- failures -------------------------------------------------------------------------
async def test_a_retry_after_a_failed_session_write_repairs_the_visitors_sessions() -> None:
    client = InterleavingClient(seed=1)
    store = await open_on(client)
    batch = [
        pageview("e-1", "v1", "2025-07-15T10:00:00Z"),
        pageview("e-2", "v1", "2025-07-15T10:10:00Z"),
    ]
    client.fail_next("bulk_write")

    with pytest.raises(StoreUnavailableError):
        await store.ingest(SITE, batch, RECUT)

    # The events got in before the failure; without transactions they stay.
    assert len(await store.visitor_events(SITE, "v1")) == 2
    assert await store.count_sessions(SITE, *_everything()) == 0

    retried = await store.ingest(SITE, batch, RECUT)

    # All duplicates now, yet the visitor flagged pending was re-cut.
    assert (retried.accepted, retried.duplicates) == (0, 2)
    assert await store.list_sessions(SITE, *_everything(), limit=10) == sessionize(batch)


async def test_a_lock_left_by_a_crashed_ingest_is_taken_over_once_its_lease_ran_out() -> None:
    client = mongomock_client()
    store = await open_on(client, lock_lease=timedelta(seconds=5))
    first = pageview("e-1", "v1", "2025-07-15T10:00:00Z")
    await store.ingest(SITE, [first], RECUT)
    await client["attributionhub"]["visitors"].update_one(
        {"site_id": SITE, "visitor_id": "v1"},
        {"$set": {"lock": "crashed", "lock_expires": datetime.now(UTC) - timedelta(seconds=1)}},
    )
    second = pageview("e-2", "v1", "2025-07-15T10:05:00Z")

    stored = await asyncio.wait_for(store.ingest(SITE, [second], RECUT), timeout=2)

    assert stored.accepted == 1
    assert await store.list_sessions(SITE, *_everything(), limit=10) == sessionize([first, second])


async def test_an_ingest_waits_for_a_live_lock_to_be_released() -> None:
    client = mongomock_client()
    store = await open_on(client)
    await store.ingest(SITE, [pageview("e-1", "v1", "2025-07-15T10:00:00Z")], RECUT)
    visitors = client["attributionhub"]["visitors"]
    holder = {"site_id": SITE, "visitor_id": "v1"}
    await visitors.update_one(
        holder,
        {"$set": {"lock": "other", "lock_expires": datetime.now(UTC) + timedelta(minutes=1)}},
    )
    waiting = asyncio.create_task(
        store.ingest(SITE, [pageview("e-2", "v1", "2025-07-15T10:05:00Z")], RECUT)
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()

    await visitors.update_one(holder, {"$set": {"lock": None, "lock_expires": None}})
    stored = await asyncio.wait_for(waiting, timeout=2)

    assert stored.accepted == 1
    assert await store.count_sessions(SITE, *_everything()) == 1


async def test_a_closed_store_refuses_to_serve_also_on_an_injected_client() -> None:
    client = mongomock_client()
    store = await open_on(client)
    await store.close()

    with pytest.raises(RuntimeError, match="closed"):
        await store.count_sessions(SITE, *_everything())
    # The injected client is the caller's: still usable.
    assert await client["attributionhub"]["sites"].count_documents({}) == 0


# --- long sessions --------------------------------------------------------------------
async def test_a_session_of_many_long_url_pageviews_stores_lists_and_takes_the_next_batch() -> None:
    client = mongomock_client()
    store = await open_on(client)
    start = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
    # Past 16 MB embedded whole: 4,200 visits of URLs of the longest accepted length.
    long_url = "https://example.com/" + "a" * (MAX_URL_LENGTH - 30)
    batch = [
        pageview(f"e-{i}", "v1", (start + timedelta(seconds=i)).isoformat(), f"{long_url}/{i}")
        for i in range(4_200)
    ]

    await store.ingest(SITE, batch, RECUT)

    documents = await client["attributionhub"]["sessions"].find({}).to_list(None)
    assert len(documents) == 1
    assert len(bson.encode(documents[0])) < 16 * 1024 * 1024
    assert documents[0]["path_truncated"] == 3_200
    [listed] = await store.list_sessions(SITE, *_everything(), limit=10)
    full = sessionize(batch)[0]
    assert listed.path == full.path[:500] + full.path[-500:]
    assert (listed.landing_page, listed.exit_page) == (full.landing_page, full.exit_page)
    assert listed.exit_previous_page == full.exit_previous_page

    later = pageview("e-last", "v1", (start + timedelta(hours=2)).isoformat())
    stored = await store.ingest(SITE, [later], RECUT)

    assert stored.accepted == 1
    assert await store.count_sessions(SITE, *_everything()) == 2


async def test_a_long_path_of_wide_character_urls_keeps_fewer_visits_at_each_end() -> None:
    client = mongomock_client()
    store = await open_on(client)
    start = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
    # Four bytes a character in UTF-8: 1,000 visits of these would take 16.4 MB.
    wide_url = "https://example.com/" + "\U0001f600" * (MAX_URL_LENGTH - 30)
    batch = [
        pageview(f"e-{i}", "v1", (start + timedelta(seconds=i)).isoformat(), f"{wide_url}/{i}")
        for i in range(1_200)
    ]

    await store.ingest(SITE, batch, RECUT)

    [document] = await client["attributionhub"]["sessions"].find({}).to_list(None)
    assert len(bson.encode(document)) < 7 * 1024 * 1024
    kept = len(document["path"])
    assert kept < 1_000
    assert document["path_truncated"] == 1_200 - kept
    [listed] = await store.list_sessions(SITE, *_everything(), limit=10)
    full = sessionize(batch)[0]
    assert listed.path == full.path[: kept // 2] + full.path[-(kept - kept // 2) :]
    assert (listed.landing_page, listed.exit_page) == (full.landing_page, full.exit_page)


async def test_a_path_at_the_bound_is_stored_whole() -> None:
    store = await open_on(mongomock_client())
    start = datetime(2025, 7, 15, 10, 0, tzinfo=UTC)
    batch = [
        pageview(f"e-{i}", "v1", (start + timedelta(seconds=i)).isoformat(), f"{HOME}/{i}")
        for i in range(1_000)
    ]

    await store.ingest(SITE, batch, RECUT)

    assert await store.list_sessions(SITE, *_everything(), limit=10) == sessionize(batch)
