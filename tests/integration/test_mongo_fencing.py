"""Stale writers on MongoDB: session writes fenced per lock acquisition, and leases
renewed while an ingest works (fault injection through ``mongo_shim.InterleavingClient``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from adapters.mongo_store import LockLostError, MongoStore
from domain.events import parse_event
from domain.model import Event
from domain.queries import SessionFilters, TimeWindow
from domain.sessionization import sessionize
from tests.integration.mongo_shim import InterleavingClient, mongomock_client

RECUT = partial(sessionize, timeout=timedelta(minutes=30))
SITE = "site-a"
NOW = datetime(2025, 7, 20, 12, 0, tzinfo=UTC)
EVERYTHING = (SessionFilters(), TimeWindow(None, None))
LEASE = timedelta(seconds=0.3)
# Longer than any delay below: the holder renews nothing, as a paused process would not.
PAUSED = timedelta(seconds=30)


def pageview(event_id: str, timestamp: str, url: str) -> Event:
    raw: dict[str, Any] = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": "v1",
        "timestamp": timestamp,
        "url": url,
    }
    return parse_event(raw, site_id=SITE, now=NOW)


HOME = pageview("e-1", "2025-07-15T10:00:00Z", "https://example.com/")
PRICING = pageview("e-2", "2025-07-15T10:01:00Z", "https://example.com/pricing")
SIGNUP = pageview("e-3", "2025-07-15T10:02:00Z", "https://example.com/signup")


async def open_on(client: InterleavingClient, **options: Any) -> MongoStore:
    return await MongoStore.open("mongodb://mongomock.invalid/", client=client, **options)


async def ingest_later(store: MongoStore, events: list[Event], after: float) -> Any:
    await asyncio.sleep(after)
    return await store.ingest(SITE, events, RECUT)


async def test_a_writer_whose_lease_ran_out_cannot_overwrite_the_ingest_that_took_over() -> None:
    client = InterleavingClient(seed=11)
    store = await open_on(client, lock_lease=LEASE, lock_renewal=PAUSED)
    # The first ingest's session write stalls past its lease; the second takes over.
    client.delay_next("bulk_write", 1.0)

    stale, newer = await asyncio.gather(
        store.ingest(SITE, [HOME, PRICING], RECUT),
        ingest_later(store, [SIGNUP], after=0.6),
        return_exceptions=True,
    )

    assert isinstance(stale, LockLostError)
    assert "retry the batch" in str(stale)
    assert newer.accepted == 1
    sessions = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    assert sessions == sessionize([HOME, PRICING, SIGNUP])
    assert len(sessions[0].path) == 3
    assert sessions[0].exit_page == "https://example.com/signup"


async def test_events_stored_after_a_takeover_are_re_cut_by_the_next_ingest() -> None:
    client = InterleavingClient(seed=12)
    store = await open_on(client, lock_lease=LEASE, lock_renewal=PAUSED)
    await store.ingest(SITE, [HOME], RECUT)
    # The first ingest's events land after the second read the visitor's history.
    client.delay_next("insert_many", 1.0)

    stale, newer = await asyncio.gather(
        store.ingest(SITE, [PRICING], RECUT),
        ingest_later(store, [SIGNUP], after=0.6),
        return_exceptions=True,
    )

    assert isinstance(stale, LockLostError)
    assert newer.accepted == 1
    retried = await store.ingest(SITE, [PRICING], RECUT)
    # All duplicates, yet the visitor the stale writer flagged is re-cut.
    assert (retried.accepted, retried.duplicates) == (0, 1)
    sessions = await store.list_sessions(SITE, *EVERYTHING, limit=10)
    assert sessions == sessionize([HOME, PRICING, SIGNUP])


async def test_a_slow_but_live_writer_renews_its_lease_and_keeps_its_lock() -> None:
    client = InterleavingClient(seed=13)
    store = await open_on(client, lock_lease=LEASE)
    # Three leases long: only renewals keep the lock with the first ingest.
    client.delay_next("bulk_write", 0.9)

    slow, waiting = await asyncio.gather(
        store.ingest(SITE, [HOME, PRICING], RECUT),
        ingest_later(store, [SIGNUP], after=0.5),
    )

    assert (slow.accepted, waiting.accepted) == (2, 1)
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(
        [HOME, PRICING, SIGNUP]
    )


async def test_a_renewal_that_fails_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = InterleavingClient(seed=14)
    store = await open_on(client, lock_lease=LEASE)
    await store.ingest(SITE, [HOME], RECUT)
    client.delay_next("bulk_write", 0.9)

    async def fail_one_renewal() -> None:
        await asyncio.sleep(0.05)
        client.fail_next("update_many")

    failing = asyncio.create_task(fail_one_renewal())
    slow, waiting = await asyncio.gather(
        store.ingest(SITE, [PRICING], RECUT),
        ingest_later(store, [SIGNUP], after=0.5),
    )
    await failing

    assert any("could not renew" in r.getMessage() for r in caplog.records)
    assert (slow.accepted, waiting.accepted) == (1, 1)
    assert await store.list_sessions(SITE, *EVERYTHING, limit=10) == sessionize(
        [HOME, PRICING, SIGNUP]
    )


async def test_a_batch_waiting_for_a_lock_keeps_renewing_the_ones_it_holds() -> None:
    client = mongomock_client()
    store = await MongoStore.open("mongodb://mongomock.invalid/", client=client, lock_lease=LEASE)
    await store.ingest(SITE, [HOME], RECUT)
    visitors = client["attributionhub"]["visitors"]
    await store.ingest(SITE, [other_visitor("e-0")], RECUT)
    # "v2" sorts after "v1": the batch holds v1 while it waits for v2.
    taken = {"lock": "other", "lock_expires": datetime.now(UTC) + timedelta(seconds=5)}
    await visitors.update_one({"site_id": SITE, "visitor_id": "v2"}, {"$set": taken})
    waiting = asyncio.create_task(store.ingest(SITE, [PRICING, other_visitor("e-4")], RECUT))

    await asyncio.sleep(3 * LEASE.total_seconds())
    held = await visitors.find_one({"site_id": SITE, "visitor_id": "v1"})

    assert held is not None
    assert held["lock"] not in (None, "other")
    assert held["lock_expires"] > datetime.now(UTC)
    await visitors.update_one(
        {"site_id": SITE, "visitor_id": "v2"}, {"$set": {"lock": None, "lock_expires": None}}
    )
    assert (await asyncio.wait_for(waiting, timeout=5)).accepted == 2


def other_visitor(event_id: str) -> Event:
    raw = {
        "type": "pageview",
        "event_id": event_id,
        "visitor_id": "v2",
        "timestamp": "2025-07-15T11:00:00Z",
        "url": "https://example.com/",
    }
    return parse_event(raw, site_id=SITE, now=NOW)
