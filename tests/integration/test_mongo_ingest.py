"""Ingestion on MongoDB: re-cuts from a resume point, the per-site identity of events
(``event_ids``), and the repair of visitors a failed ingest left pending (fault injection
through ``mongo_shim.InterleavingClient``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from adapters.mongo_store import MongoStore, MongoUnavailableError
from domain.events import parse_event
from domain.model import Event
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import InterleavingClient, mongomock_client

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
NOW = datetime(2025, 7, 30, 12, 0, tzinfo=UTC)
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
START = datetime(2025, 7, 15, 9, 0, tzinfo=UTC)


def pageview(event_id: str, visitor: str, at: datetime, url: str = "https://example.com/") -> Event:
    raw: dict[str, Any] = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": visitor,
        "timestamp": at.isoformat(),
        "url": url,
    }
    return parse_event(raw, site_id=SITE, now=NOW)


def day_of_visits(day: int, visits: int, visitor: str = "v1") -> list[Event]:
    """One session: ``visits`` pageviews a minute apart on day ``day``."""
    first = START + timedelta(days=day)
    return [
        pageview(
            f"{visitor}-{day}-{i}",
            visitor,
            first + timedelta(minutes=i),
            f"https://example.com/{i}",
        )
        for i in range(visits)
    ]


async def open_on(client: Any, **options: Any) -> MongoStore:
    return await MongoStore.open("mongodb://mongomock.invalid/", client=client, **options)


async def stored_sessions(store: MongoStore, visitor: str = "v1") -> list[Any]:
    return await store.visitor_sessions(SITE, visitor)


# --- resume points ------------------------------------------------------------------------
async def test_a_batch_re_reads_only_the_events_of_the_visitors_last_session() -> None:
    client = InterleavingClient(seed=21)
    store = await open_on(client)
    batches = [day_of_visits(day, 200) for day in range(10)]

    for batch in batches:
        await store.ingest(SITE, batch, RECUT)

    # Each batch after the first re-reads the previous day's session (its resume point),
    # 200 events: 1,800 in all, where re-reading whole histories read 9,000.
    assert client.documents_read["events"] == 9 * 200
    everything = [event for batch in batches for event in batch]
    assert await stored_sessions(store) == sessionize(everything)


async def test_a_late_event_re_cuts_from_the_session_it_falls_into() -> None:
    client = InterleavingClient(seed=22)
    store = await open_on(client)
    days = [day_of_visits(day, 5) for day in range(4)]
    for batch in days:
        await store.ingest(SITE, batch, RECUT)
    client.documents_read.clear()
    # Ten minutes into day 1's session: days 1 to 3 are re-cut, day 0 stays.
    late = pageview("late", "v1", START + timedelta(days=1, minutes=10), "https://example.com/x")

    await store.ingest(SITE, [late], RECUT)

    assert client.documents_read["events"] == 3 * 5
    everything = [event for batch in days for event in batch] + [late]
    sessions = await stored_sessions(store)
    assert sessions == sessionize(everything)
    documents = (
        await client["attributionhub"]["sessions"].find({}).sort("start_us", 1).to_list(None)
    )
    assert [d["ordinal"] for d in documents] == [0, 1, 2, 3]


async def test_an_event_before_the_visitors_first_session_re_cuts_the_whole_history() -> None:
    store = await open_on(mongomock_client())
    later = day_of_visits(3, 4)
    await store.ingest(SITE, later, RECUT)
    # Twenty-nine minutes before the first visit: it joins the first session.
    early = pageview("early", "v1", START + timedelta(days=3, minutes=-29))

    await store.ingest(SITE, [early], RECUT)

    assert await stored_sessions(store) == sessionize([early, *later])


async def test_an_event_between_two_sessions_that_bridges_them_merges_them() -> None:
    store = await open_on(mongomock_client())
    first = [pageview("a", "v1", START), pageview("b", "v1", START + timedelta(minutes=20))]
    second = [pageview("c", "v1", START + timedelta(minutes=60))]
    await store.ingest(SITE, first, RECUT)
    await store.ingest(SITE, second, RECUT)
    assert len(await stored_sessions(store)) == 2
    bridge = pageview("bridge", "v1", START + timedelta(minutes=40))

    await store.ingest(SITE, [bridge], RECUT)

    sessions = await stored_sessions(store)
    assert sessions == sessionize([*first, bridge, *second])
    assert len(sessions) == 1


# --- event identity -----------------------------------------------------------------------
async def test_an_event_id_another_visitor_holds_is_a_duplicate() -> None:
    store = await open_on(mongomock_client())
    await store.ingest(SITE, [pageview("e-1", "v1", START)], RECUT)

    result = await store.ingest(SITE, [pageview("e-1", "v2", START)], RECUT)

    assert (result.accepted, result.duplicates) == (0, 1)
    assert await store.visitor_events(SITE, "v2") == []
    assert await stored_sessions(store, "v2") == []


async def test_one_event_id_claimed_by_two_visitors_in_one_batch_is_stored_once() -> None:
    store = await open_on(mongomock_client())

    result = await store.ingest(
        SITE, [pageview("e-1", "v1", START), pageview("e-1", "v2", START)], RECUT
    )

    assert (result.accepted, result.duplicates) == (1, 1)
    stored = await store.visitor_events(SITE, "v1") + await store.visitor_events(SITE, "v2")
    assert [e.event_id for e in stored] == ["e-1"]


async def test_an_event_whose_identity_was_taken_before_a_failure_is_stored_by_the_retry() -> None:
    client = InterleavingClient(seed=23)
    store = await open_on(client)
    batch = [pageview("e-1", "v1", START), pageview("e-2", "v1", START + timedelta(minutes=1))]
    # The identities are written, then the connection drops before the events are.
    client.fail_next("events.insert_many")

    with pytest.raises(MongoUnavailableError):
        await store.ingest(SITE, batch, RECUT)
    retried = await store.ingest(SITE, batch, RECUT)

    assert (retried.accepted, retried.duplicates) == (2, 0)
    assert await stored_sessions(store) == sessionize(batch)


async def test_opening_a_database_written_before_event_ids_records_every_identity() -> None:
    client = mongomock_client()
    previous = await open_on(client)
    await previous.ingest(SITE, [pageview("e-1", "v1", START)], RECUT)
    db = client["attributionhub"]
    # What the previous layout had: the identity as a unique index of events.
    await db["event_ids"].drop()
    await db["events"].create_index(
        [("site_id", 1), ("event_id", 1)], unique=True, name="event_identity"
    )
    await db["events"].create_index([("site_id", 1), ("visitor_id", 1)], name="by_visitor")
    await db["meta"].update_one({"_id": "layout"}, {"$set": {"version": 2}})

    store = await open_on(client)

    assert {"event_identity", "by_visitor"}.isdisjoint(await db["events"].index_information())
    again = await store.ingest(SITE, [pageview("e-1", "v2", START)], RECUT)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert (await db["meta"].find_one({"_id": "layout"}))["version"] == 3


async def test_erasure_and_purge_release_the_identities_of_the_events_they_delete() -> None:
    client = mongomock_client()
    store = await open_on(client)
    old = pageview("old", "v1", START - timedelta(days=400))
    await store.ingest(SITE, [old, pageview("kept", "v1", START)], RECUT)
    await store.ingest(SITE, [pageview("gone", "v2", START)], RECUT)

    await store.erase_visitor(SITE, "v2")
    await store.purge(START - timedelta(days=1), RECUT, visitors=10)

    identities = client["attributionhub"]["event_ids"].find({}, {"_id": 0, "event_id": 1})
    assert [d["event_id"] async for d in identities] == ["kept"]
    # A purged event sent again is stored again, as on every store.
    assert (await store.ingest(SITE, [old], RECUT)).accepted == 1


# --- repair of pending visitors -----------------------------------------------------------
async def crash_before_sessions(client: InterleavingClient, store: MongoStore) -> list[Event]:
    """An ingest that stored its events and failed before writing sessions."""
    batch = day_of_visits(0, 3)
    client.fail_next("sessions.bulk_write")
    with pytest.raises(MongoUnavailableError):
        await store.ingest(SITE, batch, RECUT)
    return batch


async def test_the_repair_re_cuts_a_visitor_a_failed_ingest_left_pending() -> None:
    client = InterleavingClient(seed=24)
    store = await open_on(client)
    batch = await crash_before_sessions(client, store)
    assert await stored_sessions(store) == []

    assert await store.repair_pending(RECUT, visitors=100) == 1

    assert await stored_sessions(store) == sessionize(batch)
    assert await store.repair_pending(RECUT, visitors=100) == 0


async def test_the_repair_leaves_a_visitor_whose_lock_is_live_until_its_lease_runs_out() -> None:
    client = InterleavingClient(seed=25)
    store = await open_on(client)
    batch = await crash_before_sessions(client, store)
    visitors = client["attributionhub"]["visitors"]
    # A process that crashed holding the lock: its lease still runs.
    until = datetime.now(UTC) + timedelta(minutes=5)
    await visitors.update_one(
        {"visitor_id": "v1"}, {"$set": {"lock": "dead", "lock_expires": until}}
    )

    assert await store.repair_pending(RECUT, visitors=100) == 0

    expired = datetime.now(UTC) - timedelta(seconds=1)
    await visitors.update_one({"visitor_id": "v1"}, {"$set": {"lock_expires": expired}})
    assert await store.repair_pending(RECUT, visitors=100) == 1
    assert await stored_sessions(store) == sessionize(batch)


async def test_the_repair_takes_at_most_the_visitors_it_is_given() -> None:
    client = InterleavingClient(seed=26)
    store = await open_on(client)
    for visitor in ("v1", "v2", "v3"):
        client.fail_next("sessions.bulk_write")
        with pytest.raises(MongoUnavailableError):
            await store.ingest(SITE, day_of_visits(0, 2, visitor), RECUT)

    assert await store.repair_pending(RECUT, visitors=2) == 2
    assert await store.repair_pending(RECUT, visitors=2) == 1
    for visitor in ("v1", "v2", "v3"):
        assert await stored_sessions(store, visitor) == sessionize(day_of_visits(0, 2, visitor))


@pytest.mark.parametrize("seed", range(8))
async def test_two_visitors_racing_for_one_event_id_store_it_exactly_once(seed: int) -> None:
    client = InterleavingClient(seed=seed)
    store = await open_on(client)
    mine = [pageview("shared", "v1", START), pageview("v1-own", "v1", START)]
    theirs = [pageview("shared", "v2", START), pageview("v2-own", "v2", START)]

    first, second = await asyncio.gather(
        store.ingest(SITE, mine, RECUT), store.ingest(SITE, theirs, RECUT)
    )

    assert first.accepted + second.accepted == 3
    assert first.duplicates + second.duplicates == 1
    for visitor in ("v1", "v2"):
        events = await store.visitor_events(SITE, visitor)
        assert await stored_sessions(store, visitor) == sessionize(events)
    holders = [
        e.visitor_id
        for visitor in ("v1", "v2")
        for e in await store.visitor_events(SITE, visitor)
        if e.event_id == "shared"
    ]
    assert len(holders) == 1
